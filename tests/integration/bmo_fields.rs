//! The small node features Metal3's baremetal-operator negotiates microversions for:
//! `health` (1.109) from the Redfish ComputerSystem's Status.Health, recorded by the power
//! sync against sushy-tools (whose systems report "OK"); `disable_power_off` (1.95); and
//! `abort` from `wait call-back` (1.110).

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{wait_until, FileServer, Ironbox};
use crate::redfish::{redfish_node, verb, Sushy};

#[test]
fn the_power_sync_records_the_bmcs_health() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start_with("[conductor]\nsync_power_state_interval = 1\n");
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    let fake = ib.node(json!({}))["uuid"].as_str().unwrap().to_string();
    let health = |u: &str, v: &str| {
        ib.req("GET", &format!("/v1/nodes/{u}"), Some(v), None).body["health"].clone()
    };
    assert_eq!(health(&u, "1.109"), Value::Null);
    // Enrolled nodes are not synced.
    verb(&ib, &u, "manage", "manageable");
    verb(&ib, &fake, "manage", "manageable");
    let seen = wait_until(Duration::from_secs(20), || {
        (health(&u, "1.109") == "OK").then_some(())
    });
    assert!(seen.is_some(), "health never recorded");
    // The field is not there below 1.109.
    let old = ib
        .req("GET", &format!("/v1/nodes/{u}"), Some("1.108"), None)
        .body;
    assert!(old.get("health").is_none(), "{old}");
    let h = ib.get(&format!("/v1/nodes/{u}/history?detail=true")).body;
    let events: Vec<&Value> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "monitoring")
        .collect();
    assert_eq!(events.len(), 1, "{h}");
    assert_eq!(
        events[0]["event"],
        "Node health status changed: health='OK' (previously 'None')"
    );
    // A driver without a health report leaves the field alone.
    assert_eq!(health(&fake, "1.109"), Value::Null);
}

#[test]
fn disable_power_off_and_abort_from_wait_call_back_follow_their_microversions() {
    let ib = Ironbox::start_with("[conductor]\nautomated_clean = false\n");
    // disable_power_off: refused below 1.95, hidden below it.
    let r = ib.req(
        "POST",
        "/v1/nodes",
        Some("1.94"),
        Some(r#"{"driver": "fake-hardware", "disable_power_off": true}"#),
    );
    assert_eq!(r.status, 406, "{}", r.body);
    let r = ib.req(
        "POST",
        "/v1/nodes",
        Some("1.95"),
        Some(r#"{"driver": "fake-hardware", "disable_power_off": true}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["disable_power_off"], true);
    let d = r.body["uuid"].as_str().unwrap().to_string();
    let old = ib
        .req("GET", &format!("/v1/nodes/{d}"), Some("1.94"), None)
        .body;
    assert!(old.get("disable_power_off").is_none(), "{old}");
    let r = ib.put(
        &format!("/v1/nodes/{d}/states/power"),
        json!({"target": "power off"}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.fault().contains("disable_power_off"), "{}", r.fault());

    // abort from wait call-back: 406 below 1.110, deploy failed from it.
    std::fs::write(ib.dir.path().join("disk.img"), vec![7u8; 4096]).unwrap();
    let images = FileServer::start(ib.dir.path());
    let n = ib.node(json!({
        "deploy_interface": "direct",
        "instance_info": {"image_source": format!("{}/disk.img", images.url), "image_checksum": "ab".repeat(32)},
        "driver_info": {"deploy_kernel": "k", "deploy_ramdisk": "r"},
    }));
    let u = n["uuid"].as_str().unwrap().to_string();
    for (target, want) in [
        ("manage", "manageable"),
        ("provide", "available"),
        ("active", "wait call-back"),
    ] {
        verb(&ib, &u, target, want);
    }
    let abort = |v: &str| {
        ib.req(
            "PUT",
            &format!("/v1/nodes/{u}/states/provision"),
            Some(v),
            Some(r#"{"target": "abort"}"#),
        )
    };
    assert_eq!(abort("1.109").status, 406);
    assert_eq!(
        ib.get(&format!("/v1/nodes/{u}")).body["provision_state"],
        "wait call-back"
    );
    assert_eq!(abort("1.110").status, 202);
    ib.wait_state(&u, "deploy failed", 20);
}
