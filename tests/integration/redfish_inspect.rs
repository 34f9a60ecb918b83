//! Inspection over Redfish against sushy-tools' emulator (the fixtures of redfish.rs):
//! properties, inventory and ports from the BMC, and the inspection rules applied to them.

use serde_json::{json, Value};

use crate::harness::Ironbox;
use crate::redfish::{last_error, redfish_node, verb, Sushy, MAC1, MAC2, SYSTEM};

#[test]
fn inspection_fills_properties_and_creates_ports() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start();
    let mut di = bmc.driver_info();
    di["redfish_system_id"] = json!(format!("/redfish/v1/Systems/{SYSTEM}"));
    di["redfish_auth_type"] = json!("auto"); // no SessionService here: basic
    let u = redfish_node(&ib, json!({"driver_info": di}));
    // A port the node already has is kept, not duplicated.
    let r = ib.post("/v1/ports", json!({"node_uuid": u, "address": MAC1}));
    assert_eq!(r.status, 201, "{}", r.body);
    verb(&ib, &u, "manage", "manageable");
    let n = verb(&ib, &u, "inspect", "manageable");
    assert_eq!(n["last_error"], Value::Null, "{n}");
    let p = &n["properties"];
    assert_eq!(p["memory_mb"], 4096, "{p}");
    assert_eq!(p["cpus"], 2, "{p}");
    assert_eq!(p["cpu_arch"], "x86_64", "{p}");
    // 20 GiB disk (the 1 GiB one is too small), minus 1 as Ironic reports it.
    assert_eq!(p["local_gb"], "19", "{p}");
    assert_eq!(p["capabilities"], "boot_mode:uefi", "{p}");
    assert!(!n["inspection_finished_at"].is_null());
    // The inventory, in the agent's shape.
    let inv = ib.get(&format!("/v1/nodes/{u}/inventory")).body["inventory"].clone();
    assert_eq!(inv["memory"]["physical_mb"], 4096, "{inv}");
    assert_eq!(inv["cpu"]["count"], 2, "{inv}");
    assert_eq!(inv["cpu"]["architecture"], "x86_64", "{inv}");
    assert_eq!(
        inv["disks"],
        json!([{"name": "sda", "size": 21474836480u64}, {"name": "sdb", "size": 1073741824}])
    );
    assert_eq!(
        inv["interfaces"],
        json!([{"mac_address": MAC1}, {"mac_address": MAC2}])
    );
    assert_eq!(
        inv["system_vendor"]["manufacturer"], "Sushy Emulator",
        "{inv}"
    );
    assert_eq!(inv["boot"]["current_boot_mode"], "uefi", "{inv}");
    let ports = ib.get(&format!("/v1/nodes/{u}/ports?detail=true")).body;
    let mut macs: Vec<&str> = ports["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    macs.sort();
    assert_eq!(macs, [MAC1, MAC2]);
    // Inspecting again creates nothing new.
    verb(&ib, &u, "inspect", "manageable");
    let ports = ib.get(&format!("/v1/nodes/{u}/ports")).body;
    assert_eq!(ports["ports"].as_array().unwrap().len(), 2);
}

/// Out-of-band inspection runs the inspection rules too (as Ironic's redfish inspect
/// does), on a copy: a rule's trait and value land with the ports and inventory; a
/// failing rule fails the inspection and saves nothing.
#[test]
fn out_of_band_inspection_applies_rules_all_or_nothing() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start();
    let mut di = bmc.driver_info();
    di["redfish_system_id"] = json!(format!("/redfish/v1/Systems/{SYSTEM}"));
    di["redfish_auth_type"] = json!("auto");
    let u = redfish_node(&ib, json!({"driver_info": di}));
    let r = ib.post(
        "/v1/inspection_rules",
        json!({
            "priority": 10,
            "conditions": [{"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 2048]}}],
            "actions": [
                {"op": "add-trait", "args": {"name": "CUSTOM_OOB"}},
                {"op": "set-attribute", "args": {"path": "/extra/vendor", "value": "{inventory[system_vendor][manufacturer]}"}},
            ],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    verb(&ib, &u, "manage", "manageable");
    let n = verb(&ib, &u, "inspect", "manageable");
    assert_eq!(n["last_error"], Value::Null, "{n}");
    assert_eq!(n["traits"], json!(["CUSTOM_OOB"]), "{n}");
    assert_eq!(n["extra"]["vendor"], "Sushy Emulator", "{n}");
    assert_eq!(n["properties"]["memory_mb"], 4096, "{n}");
    let ports = ib.get(&format!("/v1/nodes/{u}/ports")).body;
    assert_eq!(ports["ports"].as_array().unwrap().len(), 2, "{ports}");
    // A failing rule ahead of it: nothing saved, the inspection failed with its message.
    let r = ib.post(
        "/v1/inspection_rules",
        json!({
            "priority": 20,
            "conditions": [{"op": "is-true", "args": {"value": true}}],
            "actions": [
                {"op": "set-attribute", "args": {"path": "/extra/vendor", "value": "changed"}},
                {"op": "fail", "args": {"msg": "refused by rule"}},
            ],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let n = verb(&ib, &u, "inspect", "inspect failed");
    assert!(last_error(&ib, &u).contains("refused by rule"), "{n}");
    assert_eq!(n["extra"]["vendor"], "Sushy Emulator", "{n}");
    assert_eq!(n["traits"], json!(["CUSTOM_OOB"]), "{n}");
}
