//! Unit tests of each hook against Ironic's documented behaviour.

use super::*;
use crate::config::Config;

fn cfg(extra: &str) -> InspectorSection {
    Config::parse(&format!("[inspector]\n{extra}"), "t")
        .unwrap()
        .inspector
}

fn node() -> Node {
    Node {
        uuid: "11111111-2222-3333-4444-555555555555".into(),
        ..Default::default()
    }
}

fn inventory() -> Value {
    json!({
        "interfaces": [
            {"name": "eth0", "mac_address": "52:54:00:00:00:01", "ipv4_address": "10.0.0.5", "client_id": null},
            {"name": "eth1", "mac_address": "52:54:00:00:00:02", "ipv4_address": null},
            {"name": "lo", "mac_address": "00:00:00:00:00:00", "ipv4_address": "127.0.0.1"},
            {"name": "bad", "mac_address": "nonsense"},
            {"mac_address": "52:54:00:00:00:09"}
        ],
        "boot": {"pxe_interface": "01-52-54-00-00-00-02", "current_boot_mode": "uefi"},
        "cpu": {"architecture": "x86_64", "count": 4},
        "memory": {"physical_mb": 4096, "total": 4000000000u64},
        "disks": [
            {"name": "/dev/sda", "size": 10u64 << 30, "rotational": true, "model": "big"},
            {"name": "/dev/sdb", "size": 6u64 << 30, "rotational": false, "model": "small"},
            {"name": "/dev/sdc", "size": 1u64 << 30}
        ]
    })
}

fn run_with(c: &InspectorSection, ports: &mut Vec<Port>) -> (Node, Value) {
    let mut n = node();
    let mut pd = json!({});
    run(c, &mut n, ports, &inventory(), &mut pd).unwrap();
    (n, pd)
}

#[test]
fn validate_interfaces_records_all_valid_and_pxe() {
    let (_, pd) = run_with(&cfg(""), &mut vec![]);
    let all = pd["all_interfaces"].as_object().unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["eth0", "eth1", "lo"]);
    assert_eq!(all["eth1"]["pxe_enabled"], true);
    assert_eq!(all["eth0"]["pxe_enabled"], false);
    // add_ports = pxe: only the booting NIC is valid.
    assert_eq!(pd["valid_interfaces"].as_object().unwrap().len(), 1);
    assert_eq!(pd["macs"], json!(["52:54:00:00:00:02"]));
    let (_, pd) = run_with(&cfg("add_ports = \"active\""), &mut vec![]);
    assert_eq!(pd["macs"], json!(["52:54:00:00:00:01"]));
    let (_, pd) = run_with(&cfg("add_ports = \"all\""), &mut vec![]);
    assert_eq!(
        pd["macs"],
        json!(["52:54:00:00:00:01", "52:54:00:00:00:02"])
    );
}

#[test]
fn inventories_without_usable_interfaces_are_refused() {
    let c = cfg("");
    for (inv, why) in [
        (json!({}), "no interfaces present in inventory"),
        (json!({"interfaces": []}), "no valid network interfaces"),
        (
            json!({"interfaces": [{"name": "lo", "mac_address": "00:00:00:00:00:00", "ipv4_address": "127.0.0.1"}]}),
            "no network interfaces match the configuration (add_ports set to \"pxe\")",
        ),
    ] {
        let err = run(&c, &mut node(), &mut vec![], &inv, &mut json!({})).unwrap_err();
        assert!(err.ends_with(why), "{err}");
        assert!(err.starts_with("Inventory for node 11111111-"), "{err}");
    }
}

fn port(mac: &str, pxe: bool) -> Port {
    Port {
        id: 7,
        uuid: format!("p-{mac}"),
        address: mac.into(),
        pxe_enabled: pxe,
        ..Default::default()
    }
}

#[test]
fn ports_added_and_kept_per_config() {
    let macs = |ps: &[Port]| ps.iter().map(|p| p.address.clone()).collect::<Vec<_>>();
    let stale = || {
        vec![
            port("52:54:00:00:00:01", true),
            port("52:54:00:00:00:77", true),
        ]
    };
    // pxe + all: the booting NIC added, nothing removed, pxe_enabled from the inventory.
    let mut ps = stale();
    run_with(&cfg(""), &mut ps);
    assert_eq!(
        macs(&ps),
        [
            "52:54:00:00:00:01",
            "52:54:00:00:00:77",
            "52:54:00:00:00:02"
        ]
    );
    assert_eq!(
        ps.iter().map(|p| p.pxe_enabled).collect::<Vec<_>>(),
        [false, false, true]
    );
    assert_eq!(ps[2].id, 0);
    // present: a port whose MAC the machine no longer has goes.
    let mut ps = stale();
    run_with(&cfg("keep_ports = \"present\""), &mut ps);
    assert_eq!(macs(&ps), ["52:54:00:00:00:01", "52:54:00:00:00:02"]);
    // added: only the MACs add_ports selects survive.
    let mut ps = stale();
    run_with(&cfg("keep_ports = \"added\""), &mut ps);
    assert_eq!(macs(&ps), ["52:54:00:00:00:02"]);
    // disabled: nothing added; update_pxe_enabled = false leaves the flags alone.
    let mut ps = stale();
    run_with(
        &cfg("add_ports = \"disabled\"\nupdate_pxe_enabled = false"),
        &mut ps,
    );
    assert_eq!(macs(&ps), ["52:54:00:00:00:01", "52:54:00:00:00:77"]);
    assert!(ps.iter().all(|p| p.pxe_enabled));
}

#[test]
fn properties_and_root_device_hints() {
    let (n, pd) = run_with(&cfg(""), &mut vec![]);
    assert_eq!(n.properties["cpu_arch"], "x86_64");
    assert_eq!(n.properties["cpus"], 4);
    assert_eq!(n.properties["memory_mb"], 4096);
    // Smallest disk of at least 4 GiB (6 GiB), less the 1 GiB spacing.
    assert_eq!(n.properties["local_gb"], 5);
    assert_eq!(pd["local_gb"], 5);
    let (n, _) = run_with(&cfg("disk_partitioning_spacing = false"), &mut vec![]);
    assert_eq!(n.properties["local_gb"], 6);

    let mut n = node();
    n.properties
        .insert("root_device".into(), json!({"model": "big"}));
    run(&cfg(""), &mut n, &mut vec![], &inventory(), &mut json!({})).unwrap();
    assert_eq!(n.properties["local_gb"], 9);
    n.properties
        .insert("root_device".into(), json!({"model": "none such"}));
    let err = run(&cfg(""), &mut n, &mut vec![], &inventory(), &mut json!({})).unwrap_err();
    assert_eq!(
        err,
        format!("No disks satisfied root device hints for node {}", n.uuid)
    );
    n.properties
        .insert("root_device".into(), json!({"size": "huge"}));
    let err = run(&cfg(""), &mut n, &mut vec![], &inventory(), &mut json!({})).unwrap_err();
    assert!(err.contains("because they failed to validate"), "{err}");

    // Diskless: local_gb 0.
    let mut inv = inventory();
    inv["disks"] = json!([]);
    let mut n = node();
    run(&cfg(""), &mut n, &mut vec![], &inv, &mut json!({})).unwrap();
    assert_eq!(n.properties["local_gb"], 0);
}

#[test]
fn boot_mode_capability_replaces_only_itself() {
    let mut n = node();
    n.properties.insert(
        "capabilities".into(),
        json!("boot_mode:bios,secure_boot:true"),
    );
    boot_mode(&mut n, &inventory());
    assert_eq!(
        n.properties["capabilities"],
        "secure_boot:true,boot_mode:uefi"
    );
    let mut n = node();
    boot_mode(&mut n, &json!({}));
    assert!(!n.properties.contains_key("capabilities"));
}

#[test]
fn pxe_mac_forms() {
    assert_eq!(
        pxe_mac(&json!({"boot": {"pxe_interface": "52:54:00:AA:BB:CC"}})).as_deref(),
        Some("52:54:00:aa:bb:cc")
    );
    assert_eq!(
        pxe_mac(&json!({"boot": {"pxe_interface": "01-52-54-00-aa-bb-cc"}})).as_deref(),
        Some("52:54:00:aa:bb:cc")
    );
    assert_eq!(pxe_mac(&json!({"boot": {"pxe_interface": null}})), None);
}
