//! Auto-discovery and inspection processing against the real binary: inventory-shaped
//! bodies posted to `/v1/continue_inspection` as a ramdisk would, then the API checked
//! for the node, its ports, properties and stored inventory.

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};

use super::harness::Ironbox;

const DISCOVERY: &str = "[auto_discovery]\nenabled = true\ndriver = \"fake-hardware\"\n";

/// An IPA-shaped inventory of a machine with two NICs, booted from the second.
fn inventory(tag: u8) -> Value {
    json!({
        "interfaces": [
            {"name": "eth0", "mac_address": format!("52:54:00:{tag:02x}:00:01"), "ipv4_address": "192.0.2.10", "has_carrier": true, "lldp": null},
            {"name": "eth1", "mac_address": format!("52:54:00:{tag:02x}:00:02"), "ipv4_address": "192.0.2.11", "has_carrier": true, "lldp": null},
            {"name": "lo", "mac_address": "00:00:00:00:00:00", "ipv4_address": "127.0.0.1"}
        ],
        "cpu": {"model_name": "QEMU", "count": 2, "architecture": "x86_64", "flags": []},
        "memory": {"total": 2147483648u64, "physical_mb": 2048},
        "disks": [{"name": "/dev/vda", "model": "virt", "size": 21474836480u64, "rotational": false}],
        "boot": {"current_boot_mode": "uefi", "pxe_interface": format!("52:54:00:{tag:02x}:00:02")},
        "system_vendor": {"product_name": "Standard PC", "serial_number": format!("SN{tag}"), "manufacturer": "QEMU"},
        "bmc_address": format!("192.0.2.{tag}"),
        "bmc_v6address": "::/0",
        "bmc_mac": format!("52:54:00:{tag:02x}:00:ff")
    })
}

fn post(ib: &Ironbox, body: &Value, version: Option<&str>) -> super::harness::Resp {
    ib.req(
        "POST",
        "/v1/continue_inspection",
        version,
        Some(&body.to_string()),
    )
}

fn nodes(ib: &Ironbox) -> Vec<Value> {
    ib.get("/v1/nodes/detail").body["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

fn ports(ib: &Ironbox, node: &str) -> Vec<Value> {
    let mut p = ib.get(&format!("/v1/nodes/{node}/ports/detail")).body["ports"]
        .as_array()
        .unwrap()
        .clone();
    p.sort_by_key(|p| p["address"].as_str().unwrap().to_string());
    p
}

#[test]
fn an_unknown_machine_is_enrolled_then_recognised() {
    let ib = Ironbox::start_with(DISCOVERY);
    let r = post(
        &ib,
        &json!({"inventory": inventory(1), "logs": "aGVsbG8="}),
        Some("1.84"),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let uuid = r.body["node"]["uuid"].as_str().unwrap().to_string();
    // The agent gets its token as with a waiting node.
    assert!(r.body["config"]["agent_token"].as_str().unwrap().len() >= 32);

    let n = ib.get(&format!("/v1/nodes/{uuid}")).body;
    assert_eq!(n["provision_state"], "enroll");
    assert_eq!(n["driver"], "fake-hardware");
    assert_eq!(n["name"], Value::Null);
    assert_eq!(n["driver_info"], json!({}));
    assert_eq!(n["driver_internal_info"]["auto_discovered"], true);
    assert_eq!(n["properties"]["cpus"], 2);
    assert_eq!(n["properties"]["cpu_arch"], "x86_64");
    assert_eq!(n["properties"]["memory_mb"], 2048);
    assert_eq!(n["properties"]["local_gb"], 19);
    assert_eq!(n["properties"]["capabilities"], "boot_mode:uefi");
    assert!(n["inspection_finished_at"].is_string());

    // add_ports = pxe: one port, the booting NIC, pxe_enabled.
    let p = ports(&ib, &uuid);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0]["address"], "52:54:00:01:00:02");
    assert_eq!(p[0]["pxe_enabled"], true);

    let inv = ib.get(&format!("/v1/nodes/{uuid}/inventory")).body;
    assert_eq!(inv["inventory"]["bmc_address"], "192.0.2.1");
    assert_eq!(inv["inventory"]["bmc_mac"], "52:54:00:01:00:ff");
    assert_eq!(inv["plugin_data"]["auto_discovered"], true);
    assert_eq!(
        inv["plugin_data"]["all_interfaces"]
            .as_object()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(inv["plugin_data"]["macs"], json!(["52:54:00:01:00:02"]));
    assert!(inv["plugin_data"].get("logs").is_none());

    // The same machine again (legacy IPA call without a version): recognised by MAC and
    // updated, never enrolled twice.
    let mut again = inventory(1);
    again["memory"]["physical_mb"] = json!(4096);
    let r = post(&ib, &json!({"inventory": again}), None);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body, json!({"uuid": uuid}));
    assert_eq!(nodes(&ib).len(), 1);
    assert_eq!(
        ib.get(&format!("/v1/nodes/{uuid}")).body["properties"]["memory_mb"],
        4096
    );

    // Recognised by BMC address alone, even with new NICs.
    let mut swapped = inventory(1);
    for (i, iface) in swapped["interfaces"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        iface["mac_address"] = json!(format!("52:54:00:99:00:{i:02x}"));
    }
    swapped["boot"]["pxe_interface"] = json!("52:54:00:99:00:01");
    let r = post(&ib, &json!({"inventory": swapped}), None);
    assert_eq!(r.body, json!({"uuid": uuid}), "{}", r.body);
    assert_eq!(nodes(&ib).len(), 1);
    // keep_ports = all: the old port stays; the new boot NIC is added and PXE-enabled.
    let p = ports(&ib, &uuid);
    assert_eq!(p.len(), 2);
    assert_eq!(
        p.iter()
            .map(|p| p["pxe_enabled"].clone())
            .collect::<Vec<_>>(),
        [json!(false), json!(true)]
    );

    // A second machine is a second node.
    assert_eq!(
        post(&ib, &json!({"inventory": inventory(2)}), None).status,
        202
    );
    assert_eq!(nodes(&ib).len(), 2);
}

#[test]
fn racing_posts_of_one_machine_make_one_node() {
    let ib = Arc::new(Ironbox::start_with(DISCOVERY));
    let n = 8;
    let gate = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (ib, gate) = (Arc::clone(&ib), Arc::clone(&gate));
            std::thread::spawn(move || {
                gate.wait();
                let r = post(&ib, &json!({"inventory": inventory(7)}), None);
                (r.status, r.body["uuid"].clone())
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(answers.iter().all(|(s, _)| *s == 202), "{answers:?}");
    assert!(answers.windows(2).all(|w| w[0].1 == w[1].1), "{answers:?}");
    let all = nodes(&ib);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(ports(&ib, all[0]["uuid"].as_str().unwrap()).len(), 1);
}

#[test]
fn without_discovery_an_unknown_machine_is_not_found_and_nothing_is_created() {
    let ib = Ironbox::start();
    let r = post(&ib, &json!({"inventory": inventory(3)}), Some("1.84"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.fault(), "Resource could not be found.");
    assert!(nodes(&ib).is_empty());
    assert!(ib.get("/v1/ports").body["ports"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn bad_inspection_data_is_refused_with_nothing_half_created() {
    let ib = Ironbox::start_with(&format!(
        "{DISCOVERY}[api]\nmax_json_body_size_inspection = 64\n"
    ));
    for (bad, status, text) in [
        (json!({}), 400, "Inspection data has no inventory object"),
        (
            json!({"inventory": "x"}),
            400,
            "Inspection data has no inventory object",
        ),
        (
            json!({"inventory": {}}),
            400,
            "Invalid inventory: interfaces must be a list",
        ),
        (
            json!({"inventory": {"interfaces": {}}}),
            400,
            "Invalid inventory: interfaces must be a list",
        ),
        (
            json!({"inventory": {"interfaces": []}}),
            400,
            "No lookup information provided",
        ),
        (
            json!({"inventory": {"interfaces": [{"name": "eth0", "mac_address": "not-a-mac"}]}}),
            400,
            "No lookup information provided",
        ),
    ] {
        let r = post(&ib, &bad, Some("1.84"));
        assert_eq!((r.status, r.fault()), (status, text.to_string()), "{bad}");
    }
    assert_eq!(post(&ib, &json!([1, 2]), Some("1.84")).status, 400);
    let huge = json!({"inventory": inventory(4), "padding": "x".repeat(100 * 1024)});
    assert_eq!(post(&ib, &huge, Some("1.84")).status, 413);

    // Only an interface on a loopback address: the node is created (it is a machine) but
    // the hooks refuse the data, so it keeps no ports and no inventory, and says why.
    let lo_only = json!({"inventory": {
        "interfaces": [{"name": "eth0", "mac_address": "52:54:00:05:00:01", "ipv4_address": "127.0.0.1"}],
        "memory": {"physical_mb": 1024}
    }});
    let r = post(&ib, &lo_only, Some("1.84"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.fault().ends_with(
            "is invalid: no network interfaces match the configuration (add_ports set to \"pxe\")"
        ),
        "{}",
        r.fault()
    );
    let all = nodes(&ib);
    assert_eq!(all.len(), 1);
    let uuid = all[0]["uuid"].as_str().unwrap();
    assert_eq!(all[0]["properties"], json!({}));
    assert!(all[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("no network interfaces match"));
    assert!(ports(&ib, uuid).is_empty());
    assert_eq!(ib.get(&format!("/v1/nodes/{uuid}/inventory")).status, 404);
}

#[test]
fn a_mac_of_an_enrolled_node_in_another_state_is_not_taken_over() {
    let ib = Ironbox::start_with(DISCOVERY);
    let n = ib.node(json!({"name": "owner"}));
    let u = n["uuid"].as_str().unwrap();
    assert_eq!(
        ib.post(
            "/v1/ports",
            json!({"address": "52:54:00:06:00:02", "node_uuid": u})
        )
        .status,
        201
    );
    // A machine claiming that MAC: the owner is not waiting for inspection, so 404, and
    // no second node.
    let r = post(&ib, &json!({"inventory": inventory(6)}), Some("1.84"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(nodes(&ib).len(), 1);
    // MACs of two different nodes in one inventory: 404 as well.
    let other = ib.node(json!({}));
    let o = other["uuid"].as_str().unwrap();
    assert_eq!(
        ib.post(
            "/v1/ports",
            json!({"address": "52:54:00:06:00:01", "node_uuid": o})
        )
        .status,
        201
    );
    assert_eq!(
        post(&ib, &json!({"inventory": inventory(6)}), None).status,
        404
    );
    assert_eq!(nodes(&ib).len(), 2);
}

#[test]
fn ports_follow_add_ports_and_keep_ports() {
    for (conf, want) in [
        (
            "add_ports = \"all\"",
            vec![("52:54:00:08:00:01", false), ("52:54:00:08:00:02", true)],
        ),
        (
            "add_ports = \"active\"\nkeep_ports = \"added\"",
            vec![("52:54:00:08:00:01", false), ("52:54:00:08:00:02", true)],
        ),
        ("add_ports = \"disabled\"", vec![]),
        ("add_ports = \"pxe\"", vec![("52:54:00:08:00:02", true)]),
    ] {
        let ib = Ironbox::start_with(&format!("{DISCOVERY}[inspector]\n{conf}\n"));
        let r = post(&ib, &json!({"inventory": inventory(8)}), None);
        assert_eq!(r.status, 202, "{conf}: {}", r.body);
        let uuid = r.body["uuid"].as_str().unwrap();
        let got: Vec<(String, bool)> = ports(&ib, uuid)
            .iter()
            .map(|p| {
                (
                    p["address"].as_str().unwrap().to_string(),
                    p["pxe_enabled"].as_bool().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, bool)> = want.iter().map(|(m, p)| (m.to_string(), *p)).collect();
        assert_eq!(got, want, "{conf}");
        // Recognised again with add_ports = disabled too (no port to find it by).
        assert_eq!(
            post(&ib, &json!({"inventory": inventory(8)}), None).body["uuid"],
            uuid
        );
        assert_eq!(nodes(&ib).len(), 1, "{conf}");
    }
    // keep_ports = present: a port whose NIC is gone is deleted on the next inspection.
    let ib = Ironbox::start_with(&format!(
        "{DISCOVERY}[inspector]\nkeep_ports = \"present\"\n"
    ));
    let uuid = post(&ib, &json!({"inventory": inventory(9)}), None).body["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ib.post(
            "/v1/ports",
            json!({"address": "52:54:00:09:00:77", "node_uuid": uuid})
        )
        .status,
        201
    );
    assert_eq!(ports(&ib, &uuid).len(), 2);
    post(&ib, &json!({"inventory": inventory(9)}), None);
    let p = ports(&ib, &uuid);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["address"], "52:54:00:09:00:02");
}
