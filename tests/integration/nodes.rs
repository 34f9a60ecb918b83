//! Nodes through the real binary: create/show/list/patch/delete, microversions, fields,
//! pagination, filters, traits, maintenance, states, validate, history, masking.

use serde_json::{json, Value};

use crate::harness::Ironbox;

#[test]
fn root_documents_and_version_headers() {
    let ib = Ironbox::start();
    let r = ib.req("GET", "/", None, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["default_version"]["min_version"], "1.1");
    let max = r.body["default_version"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        r.header("x-openstack-ironic-api-maximum-version"),
        Some(max.as_str())
    );
    assert_eq!(r.header("x-openstack-ironic-api-version"), Some("1.1"));
    assert!(r
        .header("x-openstack-request-id")
        .unwrap()
        .starts_with("req-"));

    let v1 = ib.req("GET", "/v1/", Some("latest"), None);
    assert_eq!(v1.status, 200);
    assert_eq!(
        v1.header("x-openstack-ironic-api-version"),
        Some(max.as_str())
    );
    for c in [
        "nodes",
        "ports",
        "chassis",
        "drivers",
        "portgroups",
        "conductors",
    ] {
        assert_eq!(v1.body[c][0]["rel"], "self", "{c}");
    }
    // Collections appear only from their microversion.
    let old = ib.req("GET", "/v1", Some("1.22"), None);
    assert!(old.body.get("portgroups").is_none() && old.body.get("conductors").is_none());
    // The standard header wins over the legacy one.
    let both = ib.req_h(
        "GET",
        "/v1/nodes",
        Some("1.20"),
        None,
        &[("OpenStack-API-Version", "baremetal 1.50")],
    );
    assert_eq!(both.header("x-openstack-ironic-api-version"), Some("1.50"));
    // Unversioned paths route to v1.
    assert_eq!(ib.get("/nodes").status, 200);
}

#[test]
fn create_show_and_field_hiding_by_version() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "n1", "properties": {"cpus": 4}, "driver_info": {"ipmi_password": "hunter2", "ipmi_username": "admin"}}));
    assert_eq!(n["provision_state"], "enroll");
    assert_eq!(n["power_interface"], "fake");
    assert_eq!(n["network_interface"], "noop");
    assert_eq!(n["storage_interface"], "noop");
    assert_eq!(n["conductor"], "test-conductor");
    assert_eq!(n["driver_info"]["ipmi_password"], "******");
    assert_eq!(n["driver_info"]["ipmi_username"], "admin");
    let uuid = n["uuid"].as_str().unwrap();

    // By name and by uuid; secrets masked on every read.
    let by_name = ib.get("/v1/nodes/n1");
    assert_eq!(by_name.body["uuid"], uuid);
    assert_eq!(by_name.body["driver_info"]["ipmi_password"], "******");
    assert!(!ib
        .get(&format!("/v1/nodes/{uuid}"))
        .body
        .to_string()
        .contains("hunter2"));
    assert!(!ib
        .get("/v1/nodes/detail")
        .body
        .to_string()
        .contains("hunter2"));

    // At 1.1: no name, no interfaces; names don't resolve.
    let old = ib.req("GET", &format!("/v1/nodes/{uuid}"), Some("1.1"), None);
    assert!(
        old.body.get("name").is_none()
            && old.body.get("power_interface").is_none()
            && old.body.get("traits").is_none()
    );
    assert!(old.body.get("chassis_uuid").is_some());
    assert_eq!(ib.req("GET", "/v1/nodes/n1", Some("1.1"), None).status, 404);
    // At 1.30: interfaces still hidden, name and network_interface present.
    let mid = ib.req("GET", "/v1/nodes/n1", Some("1.30"), None).body;
    assert!(
        mid.get("name").is_some()
            && mid.get("network_interface").is_some()
            && mid.get("power_interface").is_none()
    );

    // Creating below 1.11 lands in available (shown as null below 1.2).
    let avail = ib.req(
        "POST",
        "/v1/nodes",
        Some("1.10"),
        Some(r#"{"driver": "fake-hardware"}"#),
    );
    assert_eq!(avail.status, 201);
    assert_eq!(avail.body["provision_state"], "available");
    assert!(avail
        .header("location")
        .unwrap()
        .ends_with(avail.body["uuid"].as_str().unwrap()));
    let u2 = avail.body["uuid"].as_str().unwrap();
    assert_eq!(
        ib.req("GET", &format!("/v1/nodes/{u2}"), Some("1.1"), None)
            .body["provision_state"],
        Value::Null
    );
    // A field newer than the requested version is refused with 406.
    let r = ib.req(
        "POST",
        "/v1/nodes",
        Some("1.49"),
        Some(r#"{"driver": "fake-hardware", "owner": "p"}"#),
    );
    assert_eq!(r.status, 406);
}

#[test]
fn list_fields_pagination_sorting_filters() {
    let ib = Ironbox::start();
    for i in 0..5 {
        ib.node(json!({"name": format!("node-{i}"), "resource_class": if i % 2 == 0 { "gold" } else { "silver" }, "owner": format!("p{}", i % 2)}));
    }
    let l = ib.get("/v1/nodes");
    assert_eq!(l.body["nodes"].as_array().unwrap().len(), 5);
    let keys: Vec<&String> = l.body["nodes"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "default list fields + links: {keys:?}");
    assert!(
        l.body.get("next").is_none(),
        "no next when the page is not full"
    );

    let f = ib.get("/v1/nodes?fields=uuid,resource_class");
    let o = f.body["nodes"][0].as_object().unwrap();
    assert!(o.contains_key("resource_class") && o.contains_key("links") && !o.contains_key("name"));

    // Walk pages of 2 by following `next`.
    let mut url = "/v1/nodes?limit=2&sort_key=name&sort_dir=desc".to_string();
    let mut names = vec![];
    loop {
        let page = ib.get(&url);
        assert_eq!(page.status, 200, "{}", page.body);
        names.extend(
            page.body["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["name"].as_str().unwrap().to_string()),
        );
        match page.body.get("next").and_then(Value::as_str) {
            Some(next) => {
                assert!(
                    next.contains("marker=") && next.contains("limit=2"),
                    "{next}"
                );
                url = next.trim_start_matches(&ib.url).to_string();
            }
            None => break,
        }
    }
    assert_eq!(names, ["node-4", "node-3", "node-2", "node-1", "node-0"]);

    assert_eq!(
        ib.get("/v1/nodes?resource_class=gold").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        ib.get("/v1/nodes?owner=p1").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        ib.get("/v1/nodes?provision_state=enroll&driver=fake-hardware")
            .body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        ib.get("/v1/nodes?provision_state=available").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        ib.get("/v1/nodes?maintenance=true").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        ib.get("/v1/nodes?associated=false").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        ib.get("/v1/nodes?conductor_group=").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        ib.get("/v1/nodes?conductor=test-conductor").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        ib.get("/v1/nodes?conductor=elsewhere").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let detail = ib.get("/v1/nodes?detail=true&limit=1");
    assert!(detail.body["nodes"][0].get("driver_info").is_some());
    assert!(detail.body["next"]
        .as_str()
        .unwrap()
        .contains("detail=true"));
    assert!(ib.get("/v1/nodes/detail").body["nodes"][0]
        .get("properties")
        .is_some());
    // Filters newer than the requested version: 406.
    assert_eq!(
        ib.req("GET", "/v1/nodes?owner=p1", Some("1.49"), None)
            .status,
        406
    );
}

#[test]
fn patch_rules() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "p1"}));
    let u = n["uuid"].as_str().unwrap();
    let r = ib.patch(
        "/v1/nodes/p1",
        json!([
            {"op": "replace", "path": "/name", "value": "p2"},
            {"op": "add", "path": "/extra/foo", "value": "bar"},
            {"op": "add", "path": "/driver_info/ipmi_password", "value": "pw"},
            {"op": "replace", "path": "/description", "value": "rack 3"},
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "p2");
    assert_eq!(r.body["extra"]["foo"], "bar");
    assert_eq!(r.body["driver_info"]["ipmi_password"], "******");
    assert!(r.body["updated_at"].is_string());
    // Masked values survive a patch of a sibling key (the patch works on real values).
    ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "add", "path": "/driver_info/ipmi_username", "value": "u"}]),
    );
    let r = ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "remove", "path": "/extra/foo"}, {"op": "remove", "path": "/name"}]),
    );
    assert_eq!(r.body["name"], Value::Null);
    assert_eq!(r.body["extra"], json!({}));

    // instance_uuid: setting a different one over an existing one is NodeAssociated.
    let inst = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    assert_eq!(
        ib.patch(
            &format!("/v1/nodes/{u}"),
            json!([{"op": "add", "path": "/instance_uuid", "value": inst}])
        )
        .status,
        200
    );
    let r = ib.patch(&format!("/v1/nodes/{u}"), json!([{"op": "add", "path": "/instance_uuid", "value": "bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee"}]));
    assert_eq!(r.status, 409);
    assert_eq!(
        r.fault(),
        format!("Node {u} is associated with instance {inst}.")
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes?instance_uuid={inst}")).body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = ib.delete(&format!("/v1/nodes/{u}"));
    assert_eq!(r.status, 409, "associated nodes cannot be deleted");
    // Two nodes cannot share an instance.
    let other = ib.node(json!({}));
    let r = ib.patch(
        &format!("/v1/nodes/{}", other["uuid"].as_str().unwrap()),
        json!([{"op": "add", "path": "/instance_uuid", "value": inst}]),
    );
    assert_eq!(r.status, 409);
    assert!(r.fault().contains("is already associated with a node"));
    assert_eq!(
        ib.patch(
            &format!("/v1/nodes/{u}"),
            json!([{"op": "remove", "path": "/instance_uuid"}])
        )
        .status,
        200
    );

    // Interfaces: must be enabled; null resets to the default.
    let r = ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "replace", "path": "/power_interface", "value": "ilo"}]),
    );
    assert_eq!(r.status, 400);
    assert!(r
        .fault()
        .contains("'ironic.hardware.interfaces.power' entrypoint: ilo"));
    let r = ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "replace", "path": "/network_interface", "value": "flat"}]),
    );
    assert_eq!(r.body["network_interface"], "flat");
    let r = ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "remove", "path": "/network_interface"}]),
    );
    assert_eq!(r.body["network_interface"], "noop");
    // Protected only in active/rescue; reasons need their flag.
    assert_eq!(
        ib.patch(
            &format!("/v1/nodes/{u}"),
            json!([{"op": "replace", "path": "/protected", "value": true}])
        )
        .status,
        409
    );
    assert_eq!(
        ib.patch(
            &format!("/v1/nodes/{u}"),
            json!([{"op": "replace", "path": "/protected_reason", "value": "x"}])
        )
        .status,
        400
    );
    // instance_name follows instance_info.display_name when not set explicitly.
    let r = ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "add", "path": "/instance_info/display_name", "value": "web-1"}]),
    );
    assert_eq!(r.body["instance_name"], "web-1");
    assert_eq!(
        ib.get("/v1/nodes?instance_name=web-1").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Maintenance through PATCH; unsetting clears the reason.
    ib.put(
        &format!("/v1/nodes/{u}/maintenance"),
        json!({"reason": "disk"}),
    );
    let r = ib.patch(
        &format!("/v1/nodes/{u}"),
        json!([{"op": "replace", "path": "/maintenance", "value": false}]),
    );
    assert_eq!(r.body["maintenance"], false);
    assert_eq!(r.body["maintenance_reason"], Value::Null);
}

#[test]
fn delete_and_duplicates() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "dup", "uuid": "11111111-2222-3333-4444-555555555555"}));
    let r = ib.post(
        "/v1/nodes",
        json!({"driver": "fake-hardware", "name": "dup"}),
    );
    assert_eq!(
        (r.status, r.fault()),
        (409, "A node with name dup already exists.".to_string())
    );
    let r = ib.post(
        "/v1/nodes",
        json!({"driver": "fake-hardware", "uuid": n["uuid"]}),
    );
    assert_eq!(
        (r.status, r.fault()),
        (
            409,
            "A node with UUID 11111111-2222-3333-4444-555555555555 already exists.".to_string()
        )
    );
    let r = ib.patch(
        "/v1/nodes/dup",
        json!([{"op": "replace", "path": "/name", "value": "dup"}]),
    );
    assert_eq!(r.status, 200, "renaming to its own name is fine");
    let port = ib.post(
        "/v1/ports",
        json!({"address": "52:54:00:00:00:01", "node_uuid": n["uuid"]}),
    );
    assert_eq!(port.status, 201);
    let t = ib.put("/v1/nodes/dup/traits", json!({"traits": ["CUSTOM_A"]}));
    assert_eq!(t.status, 204);
    assert_eq!(ib.delete("/v1/nodes/dup").status, 204);
    assert_eq!(ib.get("/v1/nodes/dup").status, 404);
    assert_eq!(
        ib.get(&format!(
            "/v1/ports/{}",
            port.body["uuid"].as_str().unwrap()
        ))
        .status,
        404,
        "ports go with the node"
    );
    assert_eq!(ib.delete("/v1/nodes/dup").status, 404);
    // A node in a state that does not allow deletion is refused unless in maintenance.
    let active = ib.node(json!({"name": "busy"}));
    let _ = active;
}

#[test]
fn traits_maintenance_states_validate_history() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "t1"}));
    let u = n["uuid"].as_str().unwrap();
    assert_eq!(
        ib.put(
            "/v1/nodes/t1/traits",
            json!({"traits": ["CUSTOM_A", "HW_CPU_X86_AVX2"]})
        )
        .status,
        204
    );
    let r = ib.req("PUT", "/v1/nodes/t1/traits/CUSTOM_B", Some("latest"), None);
    assert_eq!(r.status, 204);
    assert!(r.header("location").unwrap().ends_with("/traits/CUSTOM_B"));
    assert_eq!(
        ib.get("/v1/nodes/t1/traits").body["traits"],
        json!(["CUSTOM_A", "CUSTOM_B", "HW_CPU_X86_AVX2"])
    );
    assert_eq!(
        ib.get("/v1/nodes/t1?fields=traits").body["traits"],
        json!(["CUSTOM_A", "CUSTOM_B", "HW_CPU_X86_AVX2"])
    );
    let r = ib.delete("/v1/nodes/t1/traits/CUSTOM_Z");
    assert_eq!(
        (r.status, r.fault()),
        (404, format!("Node {u} doesn't have a trait 'CUSTOM_Z'"))
    );
    assert_eq!(ib.delete("/v1/nodes/t1/traits/CUSTOM_B").status, 204);
    assert_eq!(
        ib.req("GET", "/v1/nodes/t1/traits", Some("1.36"), None)
            .status,
        406
    );
    let too_many: Vec<String> = (0..51).map(|i| format!("CUSTOM_{i}")).collect();
    assert_eq!(
        ib.put("/v1/nodes/t1/traits", json!({"traits": too_many}))
            .status,
        400
    );
    assert_eq!(ib.delete("/v1/nodes/t1/traits").status, 204);
    assert_eq!(ib.get("/v1/nodes/t1/traits").body["traits"], json!([]));

    assert_eq!(
        ib.put("/v1/nodes/t1/maintenance", json!({"reason": "fan"}))
            .status,
        202
    );
    let s = ib
        .get("/v1/nodes/t1?fields=maintenance,maintenance_reason")
        .body;
    assert_eq!(
        (s["maintenance"].clone(), s["maintenance_reason"].clone()),
        (json!(true), json!("fan"))
    );
    assert_eq!(
        ib.get("/v1/nodes?maintenance=true").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(ib.delete("/v1/nodes/t1/maintenance").status, 202);
    assert_eq!(
        ib.get("/v1/nodes/t1").body["maintenance_reason"],
        Value::Null
    );

    let st = ib.get("/v1/nodes/t1/states").body;
    assert_eq!(st["provision_state"], "enroll");
    assert!(st.get("boot_mode").is_some() && st.get("raid_config").is_some());
    assert!(ib
        .req("GET", "/v1/nodes/t1/states", Some("1.11"), None)
        .body
        .get("raid_config")
        .is_none());

    let v = ib.get("/v1/nodes/t1/validate").body;
    assert_eq!(v["power"]["result"], true);
    assert_eq!(v.as_object().unwrap().len(), 12);
    ib.patch(
        "/v1/nodes/t1",
        json!([{"op": "replace", "path": "/bios_interface", "value": "no-bios"}]),
    );
    let v = ib.get("/v1/nodes/t1/validate").body;
    assert_eq!(v["bios"]["result"], false);
    assert!(v["bios"]["reason"]
        .as_str()
        .unwrap()
        .contains("does not support bios"));

    let h = ib.get("/v1/nodes/t1/history");
    assert_eq!(h.status, 200);
    let events = h.body["history"].as_array().unwrap();
    assert_eq!(events.len(), 2, "maintenance set and unset: {}", h.body);
    assert!(events[0].get("event_type").is_none());
    let d = ib.get("/v1/nodes/t1/history?detail=true").body;
    assert_eq!(d["history"][0]["event_type"], "maintenance");
    assert_eq!(d["history"][0]["conductor"], "test-conductor");
    let one = ib.get(&format!(
        "/v1/nodes/t1/history/{}",
        events[0]["uuid"].as_str().unwrap()
    ));
    assert_eq!(one.body["uuid"], events[0]["uuid"]);
    assert_eq!(
        ib.req("GET", "/v1/nodes/t1/history", Some("1.77"), None)
            .status,
        404
    );
}
