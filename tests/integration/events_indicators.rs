//! `POST /v1/events` (1.54) with Ironic's schema and messages, counted in `/metrics`; and
//! hardware indicators (`/management/indicators`) with fake-hardware and with the
//! redfish management interface against sushy-tools' emulator.

use serde_json::{json, Value};

use crate::harness::Ironbox;
use crate::redfish::{redfish_node, Sushy, SYSTEM};

const PORT_ID: &str = "363e6e44-36b5-4d6a-a5e5-3f3a4c3a6c0a";

fn event(kind: &str) -> Value {
    json!({"event": kind, "port_id": PORT_ID, "mac_address": "52:54:00:12:34:56",
           "status": "ACTIVE"})
}

#[test]
fn events_are_accepted_counted_and_checked() {
    let ib = Ironbox::start_with("[metrics]\nenabled = true\nauth = \"none\"\n");
    let mut full = event("network.bind_port");
    full["device_id"] = json!(PORT_ID);
    full["binding:host_id"] = json!(PORT_ID);
    full["binding:vnic_type"] = json!("baremetal");
    let r = ib.post(
        "/v1/events",
        json!({"events": [full, event("network.unbind_port"), event("network.delete_port")]}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let text = ib.req("GET", "/metrics", None, None).body;
    let text = text.as_str().unwrap_or_default();
    for kind in ["bind_port", "unbind_port", "delete_port"] {
        let line = format!("ironbox_external_events_total{{event=\"network.{kind}\"}} 1");
        assert!(text.contains(&line), "{line} missing from:\n{text}");
    }
    assert!(ib.log().contains("external event received"));

    // As Ironic 39 answers the same bodies.
    let mut bad_mac = event("network.bind_port");
    bad_mac["mac_address"] = json!("52-54-00-12-34-56");
    let mut extra = event("network.bind_port");
    extra["extra"] = json!(1);
    for (body, fault) in [
        (json!({}), "Schema error: 'events' is a required property"),
        (json!({"events": []}), "Schema error: [] should be non-empty"),
        (json!({"events": [{}]}), "Schema error: 'event' is a required property"),
        (
            json!({"events": [event("network.foo")]}),
            "Schema error: 'network.foo' is not one of ['network.bind_port', 'network.unbind_port', 'network.delete_port']",
        ),
        (
            json!({"events": [bad_mac]}),
            "Schema error: '52-54-00-12-34-56' is not a 'mac-address'",
        ),
        (
            json!({"events": [extra]}),
            "Schema error: Additional properties are not allowed ('extra' was unexpected)",
        ),
        (json!([]), "Schema error: [] is not of type 'object'"),
    ] {
        let r = ib.post("/v1/events", body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.fault(), fault, "{body}");
    }
    let r = ib.req("POST", "/v1/events", Some("latest"), Some("{"));
    assert_eq!(r.status, 400, "{}", r.body);
    let ok = json!({"events": [event("network.bind_port")]}).to_string();
    let r = ib.req("POST", "/v1/events", Some("1.53"), Some(&ok));
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.fault(), "The API is not supported for this version");
    assert_eq!(
        ib.req("POST", "/v1/events", Some("1.54"), Some(&ok)).status,
        204
    );
    assert_eq!(ib.get("/v1/events").status, 405);
    // Linked from the version document from 1.54 on, as Ironic links it.
    assert!(ib.get("/v1/").body["events"].is_array());
    assert!(ib.req("GET", "/v1/", Some("1.53"), None).body["events"].is_null());
}

fn indicators(ib: &Ironbox, node: &str) -> Vec<Value> {
    let r = ib.get(&format!("/v1/nodes/{node}/management/indicators"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["indicators"].as_array().unwrap().clone()
}

fn state(ib: &Ironbox, node: &str, name: &str) -> Value {
    let r = ib.get(&format!("/v1/nodes/{node}/management/indicators/{name}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["state"].clone()
}

fn set(ib: &Ironbox, node: &str, name: &str, s: &str) -> crate::harness::Resp {
    ib.put(
        &format!("/v1/nodes/{node}/management/indicators/{name}"),
        json!({ "state": s }),
    )
}

#[test]
fn fake_indicators_list_read_and_set() {
    let ib = Ironbox::start();
    ib.node(json!({"name": "leds"}));
    let list = indicators(&ib, "leds");
    let names: Vec<&str> = list.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["led-0@chassis", "led@system"]);
    let sys = &list[1];
    assert_eq!(sys["component"], "system");
    assert_eq!(sys["readonly"], false);
    assert_eq!(sys["states"], json!(["blinking", "off", "on"]));
    assert!(sys["links"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with("/v1/nodes/leds/management/indicators/led@system"));
    assert_eq!(list[0]["readonly"], true);

    assert_eq!(state(&ib, "leds", "led@system"), "on");
    assert_eq!(set(&ib, "leds", "led@system", "blinking").status, 204);
    assert_eq!(state(&ib, "leds", "led@system"), "blinking");
    // The state may come in the query string too.
    let r = ib.req(
        "PUT",
        "/v1/nodes/leds/management/indicators/led@system?state=off",
        Some("latest"),
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(state(&ib, "leds", "led@system"), "off");

    for (name, s, fault) in [
        ("led", "on", "Malformed indicator name \"led\""),
        ("nope@system", "on", "Invalid indicator nope specified."),
        ("led@bogus", "on", "Invalid component bogus specified."),
        ("led-0@chassis", "off", "is read-only"),
        (
            "led@system",
            "unknown",
            "Invalid state unknown for indicator led@system",
        ),
        ("led@system", "ON", "Invalid state ON"),
    ] {
        let r = set(&ib, "leds", name, s);
        assert_eq!(r.status, 400, "{name} {s}: {}", r.body);
        assert!(r.fault().contains(fault), "{name} {s}: {}", r.fault());
    }
    let at = "/v1/nodes/leds/management/indicators/led@system";
    for (body, fault) in [
        ("{}", "Missing mandatory parameter: state"),
        (r#"{"state": 5}"#, "Expected string for state: 5"),
        (r#"{"state": "on", "x": 1}"#, "Unexpected arguments: x"),
    ] {
        let r = ib.req("PUT", at, Some("latest"), Some(body));
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.fault(), fault);
    }
    let r = ib.get("/v1/nodes/leds/management/indicators/nope@system");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ib.get("/v1/nodes/missing/management/indicators");
    assert_eq!(r.status, 404, "{}", r.body);
}

#[test]
fn redfish_indicators_reach_the_bmc() {
    let bmc = Sushy::start(false);
    let ib = Ironbox::start();
    let u = redfish_node(&ib, json!({"driver_info": bmc.driver_info()}));
    let list = indicators(&ib, &u);
    let system = format!("{SYSTEM}@system");
    let sys = list
        .iter()
        .find(|i| i["name"] == system.as_str())
        .unwrap_or_else(|| panic!("no system LED in {list:?}"));
    assert_eq!(sys["states"], json!(["blinking", "off", "on"]));
    // The emulator's LEDs start Lit.
    assert_eq!(state(&ib, &u, &system), "on");
    let r = set(&ib, &u, &system, "blinking");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(bmc.system()["IndicatorLED"], "Blinking");
    assert_eq!(state(&ib, &u, &system), "blinking");

    // Each chassis the system links to, by its own UUID.
    let chassis: Vec<&Value> = list
        .iter()
        .filter(|i| i["component"] == "chassis")
        .collect();
    let links = bmc.system()["Links"]["Chassis"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !links.is_empty(),
        "the emulator's system links its default chassis"
    );
    assert_eq!(chassis.len(), links.len(), "{list:?}");
    for (led, link) in chassis.iter().zip(&links) {
        let name = led["name"].as_str().unwrap();
        assert_eq!(set(&ib, &u, name, "off").status, 204);
        let path = link["@odata.id"].as_str().unwrap();
        assert_eq!(bmc.get(path)["IndicatorLED"], "Off", "{path}");
        assert_eq!(state(&ib, &u, name), "off");
    }

    let r = set(&ib, &u, "nope@system", "on");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fault(), "Invalid indicator nope specified.");
}
