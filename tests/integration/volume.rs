//! Volume connectors and targets (1.32) through the real binary: the version gate, create,
//! list, show, patch and delete with Ironic's messages, uniqueness, bad input, the node
//! power-state rules and the cascade when a node is deleted.

use serde_json::{json, Value};

use crate::harness::{Ironbox, Resp};

fn uuid_of(v: &Value) -> String {
    v["uuid"].as_str().unwrap().to_string()
}

fn power(ib: &Ironbox, node: &str, target: &str) {
    let r = ib.put(
        &format!("/v1/nodes/{node}/states/power"),
        json!({"target": target}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let want = target.to_string();
    crate::harness::wait_until(std::time::Duration::from_secs(30), || {
        let n = ib.get(&format!("/v1/nodes/{node}")).body;
        (n["power_state"] == want.as_str() && n["target_power_state"].is_null()).then_some(())
    })
    .unwrap_or_else(|| panic!("{node} never reached {target}"));
}

fn provision(ib: &Ironbox, node: &str, target: &str, want: &str) {
    let r = ib.put(
        &format!("/v1/nodes/{node}/states/provision"),
        json!({"target": target}),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    ib.wait_state(node, want, 30);
}

fn fails(r: &Resp, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.fault(), text);
}

#[test]
fn gate_links_and_root() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "vol-root"}));
    for path in ["/v1/volume", "/v1/volume/connectors", "/v1/volume/targets"] {
        let old = ib.req("GET", path, Some("1.31"), None);
        fails(&old, 404, "The API is not supported for this version");
    }
    let old = ib.req("GET", "/v1/nodes/vol-root/volume", Some("1.31"), None);
    assert_eq!(old.status, 404);
    let old = ib.req(
        "POST",
        "/v1/volume/connectors",
        Some("1.31"),
        Some(&json!({"node_uuid": n["uuid"], "type": "iqn", "connector_id": "x"}).to_string()),
    );
    assert_eq!(old.status, 404);
    assert!(ib.req("GET", "/v1", Some("1.31"), None).body["volume"].is_null());
    assert_eq!(
        ib.get("/v1").body["volume"][0]["href"]
            .as_str()
            .unwrap()
            .rsplit_once("/v1/")
            .unwrap()
            .1,
        "volume/"
    );

    let root = ib.req("GET", "/v1/volume", Some("1.32"), None);
    assert_eq!(root.status, 200, "{}", root.body);
    let href = |v: &Value, k: &str| v[k][0]["href"].as_str().unwrap().to_string();
    assert!(href(&root.body, "connectors").ends_with("/v1/volume/connectors"));
    assert!(href(&root.body, "targets").ends_with("/v1/volume/targets"));
    assert!(href(&root.body, "links").ends_with("/v1/volume/"));
    // A node's volume root, by name or UUID, links to its own lists; the node view links it.
    let u = uuid_of(&n);
    let mine = ib.get("/v1/nodes/vol-root/volume").body;
    assert!(href(&mine, "connectors").ends_with(&format!("/v1/nodes/{u}/volume/connectors")));
    assert!(ib.get(&format!("/v1/nodes/{u}")).body["volume"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/nodes/{u}/volume")));
    fails(
        &ib.get("/v1/nodes/nope/volume"),
        404,
        "Node nope could not be found.",
    );
    // Another method is Ironic's 405.
    assert_eq!(ib.post("/v1/volume", json!({})).status, 405);
}

#[test]
fn connectors_crud_uniqueness_and_bad_input() {
    let ib = Ironbox::start();
    let n = uuid_of(&ib.node(json!({"name": "vc-a"})));
    let other = uuid_of(&ib.node(json!({"name": "vc-b"})));
    let body =
        |t: &str, id: &str, node: &str| json!({"node_uuid": node, "type": t, "connector_id": id});

    let r = ib.post(
        "/v1/volume/connectors",
        body("iqn", "iqn.2017-07.org:01", &n),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c = r.body.clone();
    let cu = uuid_of(&c);
    assert!(r
        .header("location")
        .unwrap()
        .ends_with(&format!("/v1/volume/connectors/{cu}")));
    assert_eq!(c["node_uuid"], n.as_str());
    assert_eq!(c["type"], "iqn");
    assert_eq!(c["extra"], json!({}));
    assert!(c["updated_at"].is_null() && c["created_at"].is_string());
    assert!(c["links"][0]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v1/volume/connectors/{cu}")));

    // (type, connector_id) is unique across nodes; another type may reuse the id.
    fails(
        &ib.post(
            "/v1/volume/connectors",
            body("iqn", "iqn.2017-07.org:01", &other),
        ),
        409,
        "A volume connector with type iqn and connector ID iqn.2017-07.org:01 already exists.",
    );
    let ip = ib.post(
        "/v1/volume/connectors",
        body("ip", "iqn.2017-07.org:01", &other),
    );
    assert_eq!(ip.status, 201, "{}", ip.body);
    let mut dup = body("wwpn", "50:01", &n);
    dup["uuid"] = json!(cu);
    fails(
        &ib.post("/v1/volume/connectors", dup),
        409,
        &format!("A volume connector with UUID {cu} already exists."),
    );

    // Bad bodies: Ironic's schema messages, nothing created.
    let before = ib.get("/v1/volume/connectors").body["connectors"]
        .as_array()
        .unwrap()
        .len();
    let too_long = format!(
        "Schema error for connector: '{}' is too long",
        "x".repeat(33)
    );
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"node_uuid": n, "type": 5, "connector_id": "x"}),
            "Schema error for connector: 5 is not of type 'string'",
        ),
        (
            json!({"type": "iqn", "connector_id": "x"}),
            "Schema error for connector: 'node_uuid' is a required property",
        ),
        (
            json!({"node_uuid": n, "type": "iqn"}),
            "Schema error for connector: 'connector_id' is a required property",
        ),
        (
            json!({"node_uuid": n, "type": "iqn", "connector_id": "x", "bogus": 1}),
            "Schema error for connector: Additional properties are not allowed ('bogus' was unexpected)",
        ),
        (
            json!({"node_uuid": "vc-a", "type": "iqn", "connector_id": "x"}),
            "Expected UUID for node_uuid: vc-a",
        ),
        (
            json!({"node_uuid": "0f2c6137-1b7d-4905-a177-7a023867a2ac", "type": "iqn", "connector_id": "x"}),
            "Invalid input for field/attribute node_uuid. Value: '0f2c6137-1b7d-4905-a177-7a023867a2ac'. ",
        ),
        (
            json!({"node_uuid": n, "type": "x".repeat(33), "connector_id": "x"}),
            &too_long,
        ),
        (
            json!({"node_uuid": n, "type": "iqn", "connector_id": "x", "extra": "s"}),
            "Schema error for connector: '******' is not of type 'object', 'null'",
        ),
        (
            json!(["not", "an", "object"]),
            "Schema error for connector: ['not', 'an', 'object'] is not of type 'object'",
        ),
    ];
    for (b, msg) in bad {
        fails(&ib.post("/v1/volume/connectors", b.clone()), 400, msg);
    }
    let after = ib.get("/v1/volume/connectors").body["connectors"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);

    // Show: UUID only, fields.
    fails(
        &ib.get("/v1/volume/connectors/not-a-uuid"),
        400,
        "Expected UUID for connector_uuid: not-a-uuid",
    );
    fails(
        &ib.get("/v1/volume/connectors/5c9dcd04-2073-49bc-9618-99ae634d8971"),
        404,
        "Volume connector 5c9dcd04-2073-49bc-9618-99ae634d8971 could not be found.",
    );
    let some = ib
        .get(&format!("/v1/volume/connectors/{cu}?fields=uuid,extra"))
        .body;
    let mut keys: Vec<&str> = some
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["extra", "links", "uuid"]);

    // Lists: default fields, detail, fields, the node filter by name, sorting, paging.
    let list = ib.get("/v1/volume/connectors").body;
    let first = list["connectors"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["connector_id", "links", "node_uuid", "type", "uuid"]);
    // `?detail=` is there from 1.32 here (1.43 elsewhere); openstacksdk sends it at 1.32.
    let detail = ib.req(
        "GET",
        "/v1/volume/connectors?detail=True",
        Some("1.32"),
        None,
    );
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.body["connectors"][0]["extra"].is_object());
    let by_name = ib.get("/v1/volume/connectors?node=vc-b").body;
    assert_eq!(by_name["connectors"].as_array().unwrap().len(), 1);
    assert_eq!(by_name["connectors"][0]["type"], "ip");
    fails(
        &ib.get("/v1/volume/connectors?node=nope"),
        404,
        "Node nope could not be found.",
    );
    fails(
        &ib.get("/v1/volume/connectors?bogus=1"),
        400,
        "Unexpected arguments: bogus",
    );
    fails(
        &ib.get("/v1/volume/connectors?sort_key=extra"),
        400,
        "The sort_key value extra is an invalid field for sorting",
    );
    fails(
        &ib.get("/v1/volume/connectors?sort_key=node_uuid"),
        400,
        "The sort_key value \"node_uuid\" is an invalid field for sorting",
    );
    let sorted = ib
        .get("/v1/volume/connectors?sort_key=type&sort_dir=asc")
        .body;
    assert_eq!(sorted["connectors"][0]["type"], "ip");
    let page = ib.get("/v1/volume/connectors?limit=1").body;
    let next = page["next"].as_str().unwrap();
    assert!(next.contains("/v1/volume/connectors?"), "{next}");
    let rest = next.split_once("/v1/").unwrap().1;
    let page2 = ib.get(&format!("/v1/{rest}")).body;
    assert_ne!(
        page2["connectors"][0]["uuid"], page["connectors"][0]["uuid"],
        "{page2}"
    );

    // A node's list holds its own; writes and items under it are malformed URIs.
    let nested = ib.get(&format!("/v1/nodes/{n}/volume/connectors")).body;
    assert_eq!(nested["connectors"].as_array().unwrap().len(), 1);
    assert_eq!(nested["connectors"][0]["uuid"], cu.as_str());
    let nested = ib.get("/v1/nodes/vc-b/volume/connectors?detail=true").body;
    assert_eq!(nested["connectors"][0]["type"], "ip");
    fails(
        &ib.post(
            &format!("/v1/nodes/{n}/volume/connectors"),
            body("iqn", "z", &n),
        ),
        400,
        "Malformed request URI.",
    );
    for m in ["GET", "DELETE"] {
        let r = ib.req(
            m,
            &format!("/v1/nodes/{n}/volume/connectors/{cu}"),
            Some("latest"),
            None,
        );
        fails(&r, 400, "Malformed request URI.");
    }
}

#[test]
fn targets_crud_uniqueness_and_masking() {
    let ib = Ironbox::start();
    let n = uuid_of(&ib.node(json!({"name": "vt-a"})));
    let other = uuid_of(&ib.node(json!({})));
    let body = |node: &str, idx: Value| json!({"node_uuid": node, "volume_type": "iscsi", "volume_id": "vol-1", "boot_index": idx});
    let mut b = body(&n, json!(0));
    b["properties"] = json!({"target_iqn": "iqn.x", "auth_password": "s3cret"});
    let r = ib.post("/v1/volume/targets", b);
    assert_eq!(r.status, 201, "{}", r.body);
    let t = r.body.clone();
    assert_eq!(t["boot_index"], 0);
    assert_eq!(t["properties"]["auth_password"], "******");
    assert_eq!(t["properties"]["target_iqn"], "iqn.x");
    assert!(!r.body.to_string().contains("s3cret"));
    let tu = uuid_of(&t);
    let shown = ib.get(&format!("/v1/volume/targets/{tu}")).body;
    assert_eq!(shown["properties"]["auth_password"], "******");

    // boot_index is unique per node only; the same volume may be listed twice.
    fails(
        &ib.post("/v1/volume/targets", body(&n, json!(0))),
        409,
        "A volume target with boot index '0' for the same node already exists.",
    );
    assert_eq!(
        ib.post("/v1/volume/targets", body(&other, json!(0))).status,
        201
    );
    assert_eq!(
        ib.post("/v1/volume/targets", body(&n, json!(1))).status,
        201
    );
    let bad: Vec<(Value, &str)> = vec![
        (
            body(&n, json!("2")),
            "Schema error for target: '2' is not of type 'integer'",
        ),
        (
            body(&n, json!(true)),
            "Schema error for target: True is not of type 'integer'",
        ),
        (
            body(&n, json!(2.5)),
            "Schema error for target: 2.5 is not of type 'integer'",
        ),
        (
            json!({"node_uuid": n, "volume_type": "iscsi", "boot_index": 3}),
            "Schema error for target: 'volume_id' is a required property",
        ),
        (
            json!({"node_uuid": n, "volume_id": "v", "volume_type": "iscsi"}),
            "Schema error for target: 'boot_index' is a required property",
        ),
    ];
    for (b, msg) in bad {
        fails(&ib.post("/v1/volume/targets", b), 400, msg);
    }

    let list = ib.get(&format!("/v1/volume/targets?node={n}")).body;
    let items = list["targets"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let mut keys: Vec<&str> = items[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "boot_index",
            "links",
            "node_uuid",
            "uuid",
            "volume_id",
            "volume_type"
        ]
    );
    let f = ib.get("/v1/volume/targets?fields=uuid,properties").body;
    assert!(f["targets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.get("boot_index").is_none() && t["properties"].is_object()));
    assert!(!f.to_string().contains("s3cret"));
    fails(
        &ib.get("/v1/volume/targets?sort_key=properties"),
        400,
        "The sort_key value properties is an invalid field for sorting",
    );
    let desc = ib.get(&format!(
        "/v1/nodes/{n}/volume/targets?sort_key=boot_index&sort_dir=desc"
    ));
    assert_eq!(desc.body["targets"][0]["boot_index"], 1, "{}", desc.body);
    fails(
        &ib.get("/v1/volume/targets?fields=uuid&detail=true"),
        400,
        "Can not specify ?detail=True and fields in the same request.",
    );
}

#[test]
fn writes_follow_the_node_power_and_provision_state() {
    let ib = Ironbox::start();
    let n = uuid_of(&ib.node(json!({"name": "vp-a"})));
    let other = uuid_of(&ib.node(json!({"name": "vp-b"})));
    let c = ib.post(
        "/v1/volume/connectors",
        json!({"node_uuid": n, "type": "iqn", "connector_id": "iqn.a"}),
    );
    assert_eq!(c.status, 201, "{}", c.body);
    let cu = uuid_of(&c.body);
    let t = ib.post(
        "/v1/volume/targets",
        json!({"node_uuid": n, "volume_type": "iscsi", "volume_id": "v", "boot_index": 0}),
    );
    let tu = uuid_of(&t.body);
    let extra = json!([{"op": "add", "path": "/extra/a", "value": 1}]);
    let cpath = format!("/v1/volume/connectors/{cu}");
    let tpath = format!("/v1/volume/targets/{tu}");

    // Updates need the node powered off.
    power(&ib, &n, "power on");
    fails(
        &ib.patch(&cpath, extra.clone()),
        400,
        &format!("The requested action \"volume connector update\" can not be performed on node \"{n}\" while it is in state \"power on\"."),
    );
    fails(
        &ib.patch(&tpath, extra.clone()),
        400,
        &format!("The requested action \"volume target update\" can not be performed on node \"{n}\" while it is in state \"power on\"."),
    );
    power(&ib, &n, "power off");
    let r = ib.patch(&cpath, extra.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["extra"], json!({"a": 1}));
    assert!(r.body["updated_at"].is_string());
    assert_eq!(ib.get(&cpath).body["extra"], json!({"a": 1}));

    // Patch rules: the allow-list, required fields, UUIDs, the new node, uniqueness.
    fails(
        &ib.patch(&cpath, json!([{"op": "replace", "path": "/uuid", "value": "x"}])),
        400,
        "Cannot patch /uuid. Only the following can be updated: connector_id, extra, node_uuid, type",
    );
    fails(
        &ib.patch(&cpath, json!([{"op": "remove", "path": "/type"}])),
        400,
        "Schema error for patch: 'type' is a required property",
    );
    fails(
        &ib.patch(
            &cpath,
            json!([{"op": "replace", "path": "/node_uuid", "value": "vp-b"}]),
        ),
        400,
        "Expected a UUID for node_uuid, but received vp-b.",
    );
    let ghost = "0f2c6137-1b7d-4905-a177-7a023867a2ac";
    fails(
        &ib.patch(
            &cpath,
            json!([{"op": "replace", "path": "/node_uuid", "value": ghost}]),
        ),
        400,
        &format!("Unable to apply the requested node_uuid '{ghost}'. Requested value was invalid."),
    );
    let c2 = ib.post(
        "/v1/volume/connectors",
        json!({"node_uuid": other, "type": "wwpn", "connector_id": "50:01"}),
    );
    assert_eq!(c2.status, 201);
    fails(
        &ib.patch(
            &cpath,
            json!([{"op": "replace", "path": "/type", "value": "wwpn"},
                   {"op": "replace", "path": "/connector_id", "value": "50:01"}]),
        ),
        409,
        "A volume connector with type wwpn and connector ID 50:01 already exists.",
    );
    assert_eq!(ib.get(&cpath).body["type"], "iqn", "nothing half-saved");
    let t1 = ib.post(
        "/v1/volume/targets",
        json!({"node_uuid": n, "volume_type": "iscsi", "volume_id": "v", "boot_index": 1}),
    );
    let t1 = format!("/v1/volume/targets/{}", uuid_of(&t1.body));
    fails(
        &ib.patch(
            &t1,
            json!([{"op": "replace", "path": "/boot_index", "value": 0}]),
        ),
        409,
        "A volume target with boot index '0' for the same node already exists.",
    );
    fails(
        &ib.patch(
            &t1,
            json!([{"op": "replace", "path": "/boot_index", "value": "5"}]),
        ),
        400,
        "Schema error for patch: '5' is not of type 'integer'",
    );
    // Moving a connector to another node: that node must be off.
    let to_other = json!([{"op": "replace", "path": "/node_uuid", "value": other}]);
    assert_eq!(ib.patch(&cpath, to_other).status, 400);
    power(&ib, &other, "power off");
    let moved = ib.patch(
        &cpath,
        json!([{"op": "replace", "path": "/node_uuid", "value": other}]),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["node_uuid"], other.as_str());
    let back = ib.patch(
        &cpath,
        json!([{"op": "replace", "path": "/node_uuid", "value": n}]),
    );
    assert_eq!(back.status, 200, "{}", back.body);

    // Deletes: any power state in enroll/manageable; powered off otherwise.
    provision(&ib, &n, "manage", "manageable");
    provision(&ib, &n, "provide", "available");
    power(&ib, &n, "power on");
    fails(
        &ib.delete(&tpath),
        400,
        &format!("The requested action \"volume target deletion\" can not be performed on node \"{n}\" while it is in state \"power on\"."),
    );
    power(&ib, &n, "power off");
    assert_eq!(ib.delete(&tpath).status, 204);
    fails(
        &ib.get(&tpath),
        404,
        &format!("Volume target {tu} could not be found."),
    );
    fails(
        &ib.delete(&tpath),
        404,
        &format!("Volume target {tu} could not be found."),
    );
    // In enroll, deleting is allowed whatever the power state.
    power(&ib, &other, "power on");
    let c2 = format!("/v1/volume/connectors/{}", uuid_of(&c2.body));
    assert_eq!(ib.delete(&c2).status, 204);
}

#[test]
fn deleting_a_node_deletes_its_connectors_and_targets() {
    let ib = Ironbox::start();
    let n = uuid_of(&ib.node(json!({})));
    let keep = uuid_of(&ib.node(json!({})));
    let mut mine = vec![];
    for (node, id) in [(&n, "a"), (&n, "b"), (&keep, "c")] {
        let c = ib.post(
            "/v1/volume/connectors",
            json!({"node_uuid": node, "type": "iqn", "connector_id": id}),
        );
        assert_eq!(c.status, 201);
        let t = ib.post(
            "/v1/volume/targets",
            json!({"node_uuid": node, "volume_type": "iscsi", "volume_id": id, "boot_index": mine.len()}),
        );
        assert_eq!(t.status, 201, "{}", t.body);
        if *node == n {
            mine.push(format!("/v1/volume/connectors/{}", uuid_of(&c.body)));
            mine.push(format!("/v1/volume/targets/{}", uuid_of(&t.body)));
        }
    }
    assert_eq!(ib.delete(&format!("/v1/nodes/{n}")).status, 204);
    for p in &mine {
        assert_eq!(ib.get(p).status, 404, "{p}");
    }
    assert_eq!(
        ib.get("/v1/volume/connectors").body["connectors"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ib.get("/v1/volume/targets").body["targets"][0]["node_uuid"],
        keep.as_str()
    );
    // The connector ID is free again.
    let again = ib.post(
        "/v1/volume/connectors",
        json!({"node_uuid": keep, "type": "iqn", "connector_id": "a"}),
    );
    assert_eq!(again.status, 201, "{}", again.body);
}

#[test]
fn storage_interface_noop_and_unknown() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"storage_interface": "noop"}));
    assert_eq!(n["storage_interface"], "noop");
    let old = ib.req(
        "GET",
        &format!("/v1/nodes/{}", n["uuid"].as_str().unwrap()),
        Some("1.32"),
        None,
    );
    assert!(old.body.get("storage_interface").is_none(), "1.33 field");
    let r = ib.post(
        "/v1/nodes",
        json!({"driver": "fake-hardware", "storage_interface": "cinder"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.fault().contains("storage"), "{}", r.fault());
    let v = ib.get(&format!(
        "/v1/nodes/{}/validate",
        n["uuid"].as_str().unwrap()
    ));
    assert_eq!(v.body["storage"]["result"], true, "{}", v.body);
}
