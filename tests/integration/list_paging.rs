//! Node lists read by projection and keyset paging (issue #20): a walk page by page with
//! every sort key, both directions, ties and NULLs, equals the full sorted list; every
//! `?fields=` and detail list shows exactly what the single-node GET (which reads the whole
//! row) shows, secrets masked; a marker that is no node is Ironic's 404.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{json, Value};

use crate::harness::Ironbox;

/// Every key a node list may sort by (the API's node fields less Ironic's unsortable ones).
const SORT_KEYS: &[&str] = &[
    "uuid",
    "name",
    "created_at",
    "updated_at",
    "driver",
    "instance_uuid",
    "instance_name",
    "last_error",
    "maintenance",
    "maintenance_reason",
    "fault",
    "power_state",
    "target_power_state",
    "provision_state",
    "target_provision_state",
    "provision_updated_at",
    "reservation",
    "console_enabled",
    "inspection_started_at",
    "inspection_finished_at",
    "resource_class",
    "bios_interface",
    "boot_interface",
    "console_interface",
    "deploy_interface",
    "firmware_interface",
    "inspect_interface",
    "management_interface",
    "network_interface",
    "power_interface",
    "raid_interface",
    "rescue_interface",
    "storage_interface",
    "vendor_interface",
    "conductor_group",
    "automated_clean",
    "protected",
    "protected_reason",
    "owner",
    "lessee",
    "description",
    "retired",
    "retired_reason",
    "boot_mode",
    "secure_boot",
    "shard",
    "disable_power_off",
    "health",
];

/// SQLite's order of stored values: NULL, then numbers (booleans are 0/1), then text.
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> (u8, i64, String) {
        match v {
            Value::Null => (0, 0, String::new()),
            Value::Bool(b) => (1, *b as i64, String::new()),
            Value::Number(n) => (1, n.as_i64().unwrap_or(0), String::new()),
            Value::String(s) => (2, 0, s.clone()),
            other => (3, 0, other.to_string()),
        }
    }
    rank(a).cmp(&rank(b))
}

fn uuids(body: &Value) -> Vec<String> {
    body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["uuid"].as_str().unwrap().to_string())
        .collect()
}

/// Follow `next` from `url`, every page's uuids in order.
fn walk(ib: &Ironbox, url: &str) -> Vec<String> {
    let mut url = url.to_string();
    let mut out = vec![];
    for _ in 0..100 {
        let page = ib.get(&url);
        assert_eq!(page.status, 200, "{url}: {}", page.body);
        out.extend(uuids(&page.body));
        match page.body.get("next").and_then(Value::as_str) {
            Some(next) => url = next.trim_start_matches(&ib.url).to_string(),
            None => return out,
        }
    }
    panic!("more than 100 pages from {url}");
}

/// Nodes with ties and NULLs in many sort columns; their uuids in creation (id) order.
fn seed(ib: &Ironbox) -> Vec<String> {
    (0..8usize)
        .map(|i| {
            let pick = |opts: &[Value]| opts[i % opts.len()].clone();
            let body = json!({
                "name": if i % 3 == 0 { Value::Null } else { json!(format!("n{}", (i * 5) % 8)) },
                "owner": pick(&[json!("a"), json!("b"), Value::Null]),
                "description": pick(&[Value::Null, json!("d1"), json!("d0"), json!("d1")]),
                "resource_class": pick(&[json!("gold"), Value::Null]),
                "lessee": pick(&[Value::Null, Value::Null, json!("x")]),
                "automated_clean": pick(&[Value::Null, json!(true), json!(false)]),
                "maintenance": i % 4 == 1,
                "retired": i % 3 == 2,
                "shard": pick(&[json!("s1"), json!("s0"), Value::Null, json!("s1")]),
            });
            ib.node(body)["uuid"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn keyset_pages_equal_the_full_sorted_list_for_every_sort_key() {
    let ib = Ironbox::start();
    let ids = seed(&ib);
    let rank: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, u)| (u.as_str(), i))
        .collect();
    for key in SORT_KEYS {
        for dir in ["asc", "desc"] {
            let q = format!("sort_key={key}&sort_dir={dir}&fields=uuid,{key}");
            let full = ib.get(&format!("/v1/nodes?{q}"));
            assert_eq!(full.status, 200, "{key}: {}", full.body);
            // The order SQLite gives (value, then id), checked independently of the store.
            let mut expect: Vec<(Value, usize, String)> = full.body["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    let u = n["uuid"].as_str().unwrap();
                    (n[*key].clone(), rank[u], u.to_string())
                })
                .collect();
            expect.sort_by(|a, b| cmp_values(&a.0, &b.0).then(a.1.cmp(&b.1)));
            if dir == "desc" {
                expect.reverse();
            }
            let expect: Vec<String> = expect.into_iter().map(|e| e.2).collect();
            assert_eq!(uuids(&full.body), expect, "{key} {dir}: full list order");
            for limit in [1, 3] {
                let pages = walk(&ib, &format!("/v1/nodes?{q}&limit={limit}"));
                assert_eq!(pages, expect, "{key} {dir} limit={limit}: pages");
            }
        }
    }
    // With a filter, and by id (the default key) both ways.
    let a: Vec<String> = uuids(&ib.get("/v1/nodes?owner=a&sort_key=name&sort_dir=desc").body);
    assert_eq!(
        walk(&ib, "/v1/nodes?owner=a&sort_key=name&sort_dir=desc&limit=1"),
        a
    );
    assert_eq!(walk(&ib, "/v1/nodes?limit=3"), ids);
    let mut rev = ids.clone();
    rev.reverse();
    assert_eq!(walk(&ib, "/v1/nodes?sort_dir=desc&limit=2"), rev);
    // Ports page the same way.
    for (i, u) in ids.iter().enumerate().take(5) {
        let r = ib.post(
            "/v1/ports",
            json!({"node_uuid": u, "address": format!("52:54:00:00:00:0{i}"),
                   "physical_network": if i % 2 == 0 { Value::Null } else { json!("phys") }}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    for key in [
        "uuid",
        "address",
        "physical_network",
        "pxe_enabled",
        "created_at",
        "name",
    ] {
        for dir in ["asc", "desc"] {
            let q = format!("sort_key={key}&sort_dir={dir}");
            let full = ib.get(&format!("/v1/ports?{q}"));
            assert_eq!(full.status, 200, "{}", full.body);
            let port_ids = |b: &Value| -> Vec<String> {
                b["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["uuid"].as_str().unwrap().to_string())
                    .collect()
            };
            let mut url = format!("/v1/ports?{q}&limit=2");
            let mut got = vec![];
            loop {
                let p = ib.get(&url);
                assert_eq!(p.status, 200, "{}", p.body);
                got.extend(port_ids(&p.body));
                match p.body.get("next").and_then(Value::as_str) {
                    Some(n) => url = n.trim_start_matches(&ib.url).to_string(),
                    None => break,
                }
            }
            assert_eq!(got, port_ids(&full.body), "ports {key} {dir}");
        }
    }
}

#[test]
fn projected_lists_show_what_the_single_node_get_shows() {
    let ib = Ironbox::start();
    let n = ib.node(json!({
        "name": "secretive",
        "driver_info": {"ipmi_address": "10.0.0.9", "ipmi_username": "admin",
                        "ipmi_password": "hunter2", "redfish_password": "p"},
        "instance_info": {"image_source": "http://u:pw@img/x.qcow2", "configdrive": "cd",
                          "image_url": "http://h/i"},
        "properties": {"cpus": 4, "root_device": {"name": "/dev/sda"}},
        "extra": {"token": "t0ps3cret", "plain": 1},
        "owner": "p1",
    }));
    let u = n["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        ib.put(&format!("/v1/nodes/{u}/traits/CUSTOM_A"), json!(null))
            .status,
        204
    );
    ib.node(json!({"name": "other"}));
    let one_in = |list: &Value| -> Value {
        list["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["uuid"] == u.as_str())
            .unwrap_or_else(|| panic!("{u} not in {list}"))
            .clone()
    };
    for version in ["latest", "1.50", "1.31"] {
        let get = |p: &str| {
            let r = ib.req("GET", p, Some(version), None);
            assert_eq!(r.status, 200, "{p}: {}", r.body);
            r.body
        };
        let full = get(&format!("/v1/nodes/{u}"));
        assert_eq!(one_in(&get("/v1/nodes/detail")), full, "{version}: detail");
        if version != "1.31" {
            // `?detail=` exists from 1.43.
            assert_eq!(one_in(&get("/v1/nodes?detail=true")), full, "{version}");
        }
        let fields: Vec<&str> = full
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| {
                v.as_array()
                    .is_none_or(|a| a.iter().all(|x| x.get("rel").is_none()))
            })
            .map(|(k, _)| k.as_str())
            .collect();
        for f in &fields {
            let q = format!("fields={f}");
            assert_eq!(
                one_in(&get(&format!("/v1/nodes?{q},uuid"))),
                get(&format!("/v1/nodes/{u}?{q},uuid")),
                "{version}: ?{q}"
            );
        }
        let all = fields.join(",");
        assert_eq!(
            one_in(&get(&format!("/v1/nodes?fields={all}"))),
            get(&format!("/v1/nodes/{u}?fields={all}")),
            "{version}: every field by name"
        );
        let plain = "instance_uuid,maintenance,power_state,provision_state,uuid,name";
        assert_eq!(
            one_in(&get("/v1/nodes")),
            get(&format!("/v1/nodes/{u}?fields={plain}")),
            "{version}: plain list"
        );
    }
    // Metal3's poll, and the secrets that must stay masked in lists.
    let m3 = ib.get("/v1/nodes?fields=uuid,name,provision_state,boot_interface");
    let o = one_in(&m3.body);
    let keys: Vec<&String> = o.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["boot_interface", "links", "name", "provision_state", "uuid"]
    );
    let d = one_in(
        &ib.get("/v1/nodes?fields=uuid,driver_info,instance_info,extra")
            .body,
    );
    assert_eq!(d["driver_info"]["ipmi_password"], "******");
    assert_eq!(d["driver_info"]["redfish_password"], "******");
    assert_eq!(d["driver_info"]["ipmi_username"], "admin");
    let text = ib.get("/v1/nodes/detail").body.to_string();
    for secret in ["hunter2", "t0ps3cret", "u:pw@"] {
        assert!(!text.contains(secret), "{secret} leaked into a detail list");
    }
}

#[test]
fn a_marker_that_is_no_node_is_a_404_in_every_order() {
    let ib = Ironbox::start();
    let gone = ib.node(json!({"name": "gone"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    ib.node(json!({"name": "stays"}));
    assert_eq!(ib.delete(&format!("/v1/nodes/{gone}")).status, 204);
    for q in [
        "",
        "&sort_key=name",
        "&sort_key=name&sort_dir=desc",
        "&sort_dir=desc",
    ] {
        for m in [gone.as_str(), "11111111-0000-0000-0000-000000000000"] {
            let r = ib.get(&format!("/v1/nodes?marker={m}{q}"));
            assert_eq!(r.status, 404, "{q}: {}", r.body);
            assert_eq!(r.fault(), format!("Node {m} could not be found."));
            let r = ib.get(&format!("/v1/nodes/detail?marker={m}{q}"));
            assert_eq!(r.status, 404, "{q}: {}", r.body);
        }
    }
}
