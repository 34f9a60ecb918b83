//! Firmware components and BIOS settings over Redfish against sushy-tools' emulator (the
//! fixtures of redfish.rs; tests/lab/sushy_fake.py gives its fake systems BIOS attributes
//! and a BiosVersion that the emulator's own SimpleUpdate raises): what verification
//! records, `firmware.update` and `bios.*` as manual clean steps, refusals by the BMC and
//! by the registry, and the microversion gates of `/firmware` and `/bios`.

use serde_json::{json, Value};

use crate::harness::Ironbox;
use crate::redfish::{last_error, redfish_node, verb, Sushy, SYSTEM};

/// A second system, so the emulator needs (and ironbox sends, as Ironic does) Targets.
const OTHER: &str = "8c3b5a7e-0000-4000-8000-000000000002";

/// Polls every second (the emulator's tasks are done at once).
const FAST: &str =
    "[redfish]\nfirmware_update_status_interval = 1\nfirmware_update_overall_timeout = 60\n";

fn two_systems() -> Sushy {
    Sushy::start_with(
        false,
        &format!(
            r#"SUSHY_EMULATOR_FAKE_SYSTEMS = [
  {{"uuid": "{SYSTEM}", "name": "rf-node", "power_state": "Off", "external_notifier": False,
    "nics": [{{"mac": "52:54:00:aa:bb:01", "ip": "10.0.0.2"}}]}},
  {{"uuid": "{OTHER}", "name": "rf-other", "power_state": "Off", "external_notifier": False,
    "nics": [{{"mac": "52:54:00:aa:bb:09", "ip": "10.0.0.9"}}]}},
]"#
        ),
    )
}

fn node(ib: &Ironbox, bmc: &Sushy) -> String {
    let mut di = bmc.driver_info();
    di["redfish_system_id"] = json!(format!("/redfish/v1/Systems/{SYSTEM}"));
    let u = redfish_node(ib, json!({"driver_info": di}));
    let n = ib.get(&format!("/v1/nodes/{u}")).body;
    assert_eq!(
        (&n["bios_interface"], &n["firmware_interface"]),
        (&json!("redfish"), &json!("redfish")),
        "{n}"
    );
    u
}

fn clean(ib: &Ironbox, u: &str, steps: Value, want: &str) -> Value {
    let r = ib.put(
        &format!("/v1/nodes/{u}/states/provision"),
        json!({"target": "clean", "clean_steps": steps}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    ib.wait_state(u, want, 60)
}

fn firmware(ib: &Ironbox, u: &str) -> Vec<Value> {
    let r = ib.get(&format!("/v1/nodes/{u}/firmware"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["firmware"].as_array().unwrap().clone()
}

fn component<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|c| c["component"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list:?}"))
}

fn bios_setting(ib: &Ironbox, u: &str, name: &str) -> Value {
    let r = ib.get(&format!("/v1/nodes/{u}/bios/{name}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body[name].clone()
}

fn emulator_bios(bmc: &Sushy) -> Value {
    bmc.get(&format!("/redfish/v1/Systems/{SYSTEM}/BIOS"))["Attributes"].clone()
}

#[test]
fn verification_records_firmware_and_bios_with_its_registry() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start_with(FAST);
    let u = node(&ib, &bmc);
    // Nothing is known before the node is verified.
    assert!(firmware(&ib, &u).is_empty());
    verb(&ib, &u, "manage", "manageable");
    assert_eq!(last_error(&ib, &u), "");

    let fw = firmware(&ib, &u);
    let bios = component(&fw, "bios");
    assert_eq!(bios["initial_version"], "1.0.0", "{bios}");
    assert_eq!(bios["current_version"], "1.0.0", "{bios}");
    assert_eq!(bios["last_version_flashed"], Value::Null, "{bios}");
    assert!(bios["created_at"].is_string(), "{bios}");
    // The identity fields appear from 1.114 on.
    assert!(bios.as_object().unwrap().contains_key("vendor"), "{bios}");
    assert_eq!(component(&fw, "bmc")["current_version"], "1.00");
    // The emulator lists no NetworkAdapters: no nic components.
    assert!(!fw
        .iter()
        .any(|c| c["component"].as_str().unwrap().starts_with("nic:")));
    let old = ib.req(
        "GET",
        &format!("/v1/nodes/{u}/firmware"),
        Some("1.113"),
        None,
    );
    assert!(!old.body["firmware"][0]
        .as_object()
        .unwrap()
        .contains_key("vendor"));
    let r = ib.req(
        "GET",
        &format!("/v1/nodes/{u}/firmware?fields=vendor"),
        Some("1.113"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.fault().contains("require at least API version 1.114"),
        "{}",
        r.fault()
    );
    let r = ib.get(&format!("/v1/nodes/{u}/firmware?fields=component"));
    assert_eq!(
        r.body["firmware"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["component", "created_at", "updated_at"]
    );
    let r = ib.get(&format!("/v1/nodes/{u}/firmware?fields=bogus"));
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("'bogus' is not one of"), "{}", r.fault());
    let r = ib.get(&format!("/v1/nodes/{u}/firmware?foo=1"));
    assert_eq!(
        (r.status, r.fault()),
        (400, "Unexpected arguments: foo".to_string())
    );
    // Before 1.86 there is no /firmware.
    let r = ib.req(
        "GET",
        &format!("/v1/nodes/{u}/firmware"),
        Some("1.85"),
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);

    // BIOS settings with the registry's facts.
    let r = ib.get(&format!("/v1/nodes/{u}/bios?detail=true"));
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.body["bios"].as_array().unwrap();
    let get = |name: &str| list.iter().find(|s| s["name"] == name).unwrap().clone();
    let cores = get("NumCores");
    assert_eq!(cores["value"], "10");
    assert_eq!(cores["attribute_type"], "Integer");
    assert_eq!(
        (&cores["lower_bound"], &cores["upper_bound"]),
        (&json!(10), &json!(20))
    );
    assert_eq!(cores["read_only"], true);
    assert_eq!(cores["unique"], false);
    let turbo = get("ProcTurboMode");
    assert_eq!(turbo["allowable_values"], json!(["Enabled", "Disabled"]));
    assert_eq!(get("QuietBoot")["value"], "True");
    assert_eq!(get("L2Cache")["max_length"], 16);
    assert_eq!(get("SerialNumber")["unique"], true);
    // Without detail, no registry fields; fields= picks them.
    let plain = ib.get(&format!("/v1/nodes/{u}/bios")).body;
    assert!(plain["bios"][0].get("attribute_type").is_none(), "{plain}");
    let r = ib.get(&format!("/v1/nodes/{u}/bios?fields=name,attribute_type"));
    let keys: Vec<&String> = r.body["bios"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "attribute_type",
            "created_at",
            "links",
            "name",
            "updated_at"
        ]
    );
    let r = ib.get(&format!("/v1/nodes/{u}/bios?fields=name&detail=true"));
    assert_eq!(r.status, 400);
    // 1.73: neither detail nor registry fields.
    let r = ib.req(
        "GET",
        &format!("/v1/nodes/{u}/bios?detail=true"),
        Some("1.73"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.fault().contains("'detail' was unexpected"),
        "{}",
        r.fault()
    );
    let one = ib.req(
        "GET",
        &format!("/v1/nodes/{u}/bios/NumCores"),
        Some("1.73"),
        None,
    );
    assert!(
        one.body["NumCores"].get("lower_bound").is_none(),
        "{}",
        one.body
    );
    assert_eq!(bios_setting(&ib, &u, "NumCores")["lower_bound"], 10);
}

#[test]
fn firmware_update_as_a_manual_clean_step() {
    let bmc = two_systems();
    let ib = Ironbox::start_with(FAST);
    let u = node(&ib, &bmc);
    verb(&ib, &u, "manage", "manageable");
    let before = bmc.reset_types().len();
    let n = clean(
        &ib,
        &u,
        json!([{"interface": "firmware", "step": "update",
                "args": {"settings": [{"component": "bios", "url": "http://127.0.0.1:9/bios-1.1.bin"}]}}]),
        "manageable",
    );
    assert_eq!(n["last_error"], Value::Null, "{n}");
    // SimpleUpdate named the node's system (the BMC has two), then the system was reset.
    let update = bmc
        .requests()
        .into_iter()
        .find(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .ends_with("UpdateService.SimpleUpdate")
        })
        .expect("a SimpleUpdate");
    assert_eq!(
        update["body"]["ImageURI"],
        "http://127.0.0.1:9/bios-1.1.bin"
    );
    assert_eq!(
        update["body"]["Targets"],
        json!([format!("/redfish/v1/Systems/{SYSTEM}")])
    );
    assert_eq!(update["body"]["TransferProtocol"], "HTTP");
    assert!(bmc.reset_types()[before..].contains(&"On".to_string()));
    // The new version is recorded, the first one kept.
    let fw = firmware(&ib, &u);
    let bios = component(&fw, "bios");
    assert_eq!(bios["initial_version"], "1.0.0", "{bios}");
    assert_eq!(bios["current_version"], "1.1.0", "{bios}");
    assert_eq!(bios["last_version_flashed"], "1.1.0", "{bios}");
    assert!(bios["updated_at"].is_string(), "{bios}");
    let bmc_fw = component(&fw, "bmc");
    assert_eq!(bmc_fw["last_version_flashed"], Value::Null, "{bmc_fw}");
    // The timeline shows the step.
    let h = ib.get(&format!("/v1/nodes/{u}/history")).body.to_string();
    assert!(h.contains("Running clean step firmware.update"), "{h}");

    // Bad settings fail the step before the BMC is asked.
    let sent = bmc.requests().len();
    let n = clean(
        &ib,
        &u,
        json!([{"interface": "firmware", "step": "update",
                "args": {"settings": [{"component": "disk", "url": "http://x/y"}]}}]),
        "clean failed",
    );
    let e = n["last_error"].as_str().unwrap();
    assert!(e.contains("Invalid firmware update"), "{e}");
    assert!(!bmc.requests()[sent..]
        .iter()
        .any(|r| r["path"].as_str().unwrap().contains("UpdateService")));
}

#[test]
fn a_firmware_update_the_bmc_refuses_fails_cleaning() {
    // One system: the emulator refuses a SimpleUpdate without Targets (and, like Ironic,
    // ironbox names no target when the BMC has a single system).
    let bmc = Sushy::start(false);
    let ib = Ironbox::start_with(FAST);
    let u = node(&ib, &bmc);
    verb(&ib, &u, "manage", "manageable");
    let n = clean(
        &ib,
        &u,
        json!([{"interface": "firmware", "step": "update",
                "args": {"settings": [{"component": "bios", "url": "http://127.0.0.1:9/bios.bin"}]}}]),
        "clean failed",
    );
    let e = n["last_error"].as_str().unwrap();
    assert!(e.contains("Clean step firmware.update failed"), "{e}");
    assert!(e.contains("refused by the BMC"), "{e}");
    assert!(e.contains("Missing ImageURI and/or Targets"), "{e}");
    // Ironic's fault handling: maintenance with the clean failure as its reason.
    assert_eq!(n["maintenance"], true);
    assert_eq!(n["fault"], "clean failure");
    // Nothing was flashed.
    let bios = firmware(&ib, &u);
    assert_eq!(component(&bios, "bios")["current_version"], "1.0.0");
}

#[test]
fn bios_settings_are_checked_against_the_registry_then_applied() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start_with(FAST);
    let u = node(&ib, &bmc);
    verb(&ib, &u, "manage", "manageable");
    let patches = |bmc: &Sushy| {
        bmc.requests()
            .into_iter()
            .filter(|r| {
                r["method"] == "PATCH" && r["path"].as_str().unwrap().ends_with("BIOS/Settings")
            })
            .count()
    };

    // Out of the registry's bounds, read-only, too long, not an allowed value: refused
    // before anything is sent, each named.
    for (name, value, why) in [
        ("NumCores", "30", "it is read-only"),
        ("L2Cache", "a string far too long for it", "outside [0, 16]"),
        (
            "ProcTurboMode",
            "Sometimes",
            "allowed values are Enabled, Disabled",
        ),
        ("QuietBoot", "maybe", "is not true or false"),
    ] {
        let sent = patches(&bmc);
        let n = clean(
            &ib,
            &u,
            json!([{"interface": "bios", "step": "apply_configuration",
                    "args": {"settings": [{"name": name, "value": value}]}}]),
            "clean failed",
        );
        let e = n["last_error"].as_str().unwrap();
        assert!(
            e.contains("invalid value for setting(s)") && e.contains(name) && e.contains(why),
            "{e}"
        );
        assert_eq!(patches(&bmc), sent, "{name}: the BMC was asked");
        let r = ib.delete(&format!("/v1/nodes/{u}/maintenance"));
        assert!(r.status < 300, "{}", r.body);
        verb(&ib, &u, "manage", "manageable");
    }

    // Good values reach the BMC (typed), the system is reset, the new values are recorded.
    let before = bmc.reset_types().len();
    let n = clean(
        &ib,
        &u,
        json!([{"interface": "bios", "step": "apply_configuration",
                "args": {"settings": [{"name": "ProcTurboMode", "value": "Disabled"},
                                      {"name": "QuietBoot", "value": "false"}]}}]),
        "manageable",
    );
    assert_eq!(n["last_error"], Value::Null, "{n}");
    let attrs = emulator_bios(&bmc);
    assert_eq!(
        (&attrs["ProcTurboMode"], &attrs["QuietBoot"]),
        (&json!("Disabled"), &json!(false))
    );
    assert!(!bmc.reset_types()[before..].is_empty(), "no reset");
    assert_eq!(bios_setting(&ib, &u, "ProcTurboMode")["value"], "Disabled");
    assert_eq!(bios_setting(&ib, &u, "QuietBoot")["value"], "False");

    // Factory reset: Bios.ResetBios, and the defaults recorded again.
    let n = clean(
        &ib,
        &u,
        json!([{"interface": "bios", "step": "factory_reset"}]),
        "manageable",
    );
    assert_eq!(n["last_error"], Value::Null, "{n}");
    assert!(bmc
        .requests()
        .iter()
        .any(|r| r["path"].as_str().unwrap().ends_with("Bios.ResetBios")));
    assert_eq!(emulator_bios(&bmc)["ProcTurboMode"], "Enabled");
    assert_eq!(bios_setting(&ib, &u, "ProcTurboMode")["value"], "Enabled");
}

#[test]
fn the_fake_firmware_interface_records_nothing_and_runs_its_step() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"driver": "fake-hardware", "firmware_interface": "fake"}));
    let u = n["uuid"].as_str().unwrap().to_string();
    verb(&ib, &u, "manage", "manageable");
    assert!(firmware(&ib, &u).is_empty());
    let n = clean(
        &ib,
        &u,
        json!([{"interface": "firmware", "step": "update",
                "args": {"settings": [{"component": "bios", "url": "http://x/y"}]}}]),
        "manageable",
    );
    assert_eq!(n["last_error"], Value::Null, "{n}");
    assert!(firmware(&ib, &u).is_empty());
    // Ironic gates /firmware at 1.86 whatever the interface.
    let r = ib.req(
        "GET",
        &format!("/v1/nodes/{u}/firmware"),
        Some("1.85"),
        None,
    );
    assert_eq!(r.status, 404);
}

#[test]
fn firmware_update_as_a_service_step_on_a_deployed_node() {
    // fake-hardware takes any enabled interface: fake deploy gets the node to active, the
    // redfish firmware interface talks to the emulator (as BMO's servicing does).
    let bmc = two_systems();
    let ib = Ironbox::start_with(FAST);
    let mut di = bmc.driver_info();
    di["redfish_system_id"] = json!(format!("/redfish/v1/Systems/{SYSTEM}"));
    let n = ib.node(
        json!({"driver": "fake-hardware", "firmware_interface": "redfish",
                           "bios_interface": "redfish", "driver_info": di}),
    );
    let u = n["uuid"].as_str().unwrap().to_string();
    verb(&ib, &u, "manage", "manageable");
    verb(&ib, &u, "provide", "available");
    verb(&ib, &u, "active", "active");
    let r = ib.put(
        &format!("/v1/nodes/{u}/states/provision"),
        json!({"target": "service", "service_steps": [{"interface": "firmware", "step": "update",
               "args": {"settings": [{"component": "bios", "url": "http://127.0.0.1:9/b.bin"}]}}]}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let n = ib.wait_state(&u, "active", 60);
    assert_eq!(n["last_error"], Value::Null, "{n}");
    let fw = firmware(&ib, &u);
    assert_eq!(component(&fw, "bios")["current_version"], "1.1.0", "{fw:?}");
    assert_eq!(component(&fw, "bios")["initial_version"], "1.0.0", "{fw:?}");
    let h = ib.get(&format!("/v1/nodes/{u}/history")).body.to_string();
    assert!(h.contains("Running service step firmware.update"), "{h}");
}
