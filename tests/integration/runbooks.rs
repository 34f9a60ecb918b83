//! Runbooks through the real binary: CRUD with Ironic's rules and texts, traits, and
//! `runbook` in manual cleaning checked against the node's traits.

use serde_json::{json, Value};

use crate::harness::Ironbox;

fn at(
    ib: &Ironbox,
    method: &str,
    path: &str,
    v: &str,
    body: Option<Value>,
) -> crate::harness::Resp {
    ib.req(
        method,
        path,
        Some(v),
        body.map(|b| b.to_string()).as_deref(),
    )
}

fn step(interface: &str, step: &str, order: Value) -> Value {
    json!({"interface": interface, "step": step, "order": order})
}

#[test]
fn runbooks_crud_with_ironics_rules() {
    let ib = Ironbox::start();
    // Absent below 1.92: 404 for a read, 405 for a write.
    assert_eq!(at(&ib, "GET", "/v1/runbooks", "1.91", None).status, 404);
    assert_eq!(
        at(&ib, "POST", "/v1/runbooks", "1.91", Some(json!({}))).status,
        405
    );
    // At 1.92 the name must be a trait; steps are normalized (order as a number, args {}).
    let r = at(
        &ib,
        "POST",
        "/v1/runbooks",
        "1.92",
        Some(
            json!({"name": "CUSTOM_RB1", "steps": [step("raid", "create_configuration", json!("2"))],
                    "extra": {"k": "v"}}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let uuid = r.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        r.body["steps"],
        json!([{"interface": "raid", "step": "create_configuration", "args": {}, "order": 2}])
    );
    assert_eq!(
        (
            r.body["public"].clone(),
            r.body["owner"].clone(),
            r.body["disable_ramdisk"].clone()
        ),
        (json!(false), Value::Null, json!(false))
    );
    assert!(r.body.get("traits").is_none() && r.body.get("description").is_none());
    assert!(r
        .header("Location")
        .unwrap()
        .ends_with(&format!("/v1/runbooks/{uuid}")));
    let bad = at(
        &ib,
        "POST",
        "/v1/runbooks",
        "1.92",
        Some(json!({"name": "rb1", "steps": [step("deploy", "x", json!(1))]})),
    );
    assert_eq!(
        (bad.status, bad.fault()),
        (400, "Schema error for runbook: 'rb1' is not valid under any of the given schemas. Possible root cause: 'rb1' does not match '^CUSTOM_[A-Z0-9_]+$'".to_string())
    );
    // From 1.112 a logical name and a description; traits are not a create field.
    let r2 = ib.post(
        "/v1/runbooks",
        json!({"name": "rb-two", "description": "d", "public": true,
               "steps": [step("raid", "create_configuration", json!(1)),
                         {"interface": "deploy", "step": "erase_devices", "order": 2,
                          "args": {"password": "hunter2"}}]}),
    );
    assert_eq!(r2.status, 201, "{}", r2.body);
    assert_eq!(r2.body["traits"], json!([]));
    assert_eq!(r2.body["steps"][1]["args"]["password"], "******");
    for (body, text) in [
        (json!({"name": "x", "steps": [step("raid", "a", json!(1))], "traits": ["CUSTOM_A"]}),
         "Schema error for runbook: Additional properties are not allowed ('traits' was unexpected)"),
        (json!({"name": "bad name", "steps": [step("raid", "a", json!(1))]}),
         "Schema error for runbook: 'bad name' does not match '^[A-Za-z0-9\\\\-._~]+$'"),
        (json!({"name": "x", "steps": []}), "Schema error for runbook: [] should be non-empty"),
        (json!({"name": "x", "steps": [{"interface": "deploy", "step": "a"}]}),
         "Schema error for runbook: 'order' is a required property"),
        (json!({"name": "x", "steps": [step("network", "a", json!(1))]}),
         "Schema error for runbook: 'network' is not one of ['vendor', 'power', 'management', 'firmware', 'deploy', 'bios', 'raid']"),
        (json!({"name": "x", "steps": [step("deploy", "a", json!(1)), step("deploy", "a", json!(2))]}),
         "Deploy template invalid: Duplicate deploy steps. A template cannot have multiple deploy steps with the same interface and step. Duplicates: interface: deploy, step: a."),
        (json!({"name": "x", "public": "true", "steps": [step("deploy", "a", json!(1))]}),
         "Schema error for runbook: 'true' is not of type 'boolean', 'null'"),
        (json!({"name": "x", "owner": "p1", "steps": [step("deploy", "a", json!(1))]}),
         "Cannot create a runbook as a project scoped admin with an owner other than your own project."),
        (json!({"steps": [step("deploy", "a", json!(1))]}),
         "Schema error for runbook: 'name' is a required property"),
    ] {
        let r = ib.post("/v1/runbooks", body.clone());
        assert_eq!((r.status, r.fault()), (400, text.to_string()), "{body}");
    }
    let dup = ib.post(
        "/v1/runbooks",
        json!({"name": "CUSTOM_RB1", "steps": [step("raid", "a", json!(1))]}),
    );
    assert_eq!(
        (dup.status, dup.fault()),
        (
            409,
            "A runbook with name CUSTOM_RB1 already exists.".to_string()
        )
    );
    assert_eq!(
        ib.get("/v1/runbooks").body["runbooks"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Lists: uuid and name by default, everything with detail, fields chosen.
    let list = ib.get("/v1/runbooks").body["runbooks"][0].clone();
    let mut keys: Vec<&str> = list
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["links", "name", "uuid"]);
    let detail = ib.get("/v1/runbooks?detail=true").body["runbooks"][1].clone();
    assert_eq!(detail["description"], "d");
    assert_eq!(
        ib.get("/v1/runbooks?fields=uuid&fields=public").body["runbooks"][1]["public"],
        true
    );
    assert_eq!(
        ib.get("/v1/runbooks?project=true").body["runbooks"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only the public one"
    );
    let fields = at(&ib, "GET", "/v1/runbooks?fields=traits", "1.92", None);
    assert_eq!(
        (fields.status, fields.fault()),
        (406, "Request not acceptable.".to_string())
    );
    assert_eq!(
        ib.get("/v1/runbooks?sort_key=steps").fault(),
        "The sort_key value steps is an invalid field for sorting"
    );
    // By name or uuid; a bad identifier and a missing one answer as Ironic does.
    assert_eq!(
        ib.get("/v1/runbooks/CUSTOM_RB1").body["uuid"],
        uuid.as_str()
    );
    assert_eq!(
        ib.get(&format!("/v1/runbooks/{uuid}")).body["name"],
        "CUSTOM_RB1"
    );
    assert_eq!(
        ib.get("/v1/runbooks/a%20b").fault(),
        "Expected UUID or name for runbook_ident: a b"
    );
    let missing = ib.get("/v1/runbooks/nope");
    assert_eq!(
        (missing.status, missing.fault()),
        (404, "Runbook nope could not be found.".to_string())
    );

    // PATCH: a public runbook has no owner; setting `public` clears the owner.
    let p = ib.patch(
        "/v1/runbooks/rb-two",
        json!([{"op": "replace", "path": "/owner", "value": "p2"}]),
    );
    assert_eq!(
        (p.status, p.fault()),
        (400, "Couldn't apply patch '[{'op': 'replace', 'path': '/owner', 'value': 'p2'}]'. Reason: There cannot be an owner for a public runbook".to_string())
    );
    let p = ib.patch(
        "/v1/runbooks/rb-two",
        json!([{"op": "replace", "path": "/owner", "value": "p2"},
               {"op": "replace", "path": "/public", "value": false}]),
    );
    assert_eq!(
        (p.body["owner"].clone(), p.body["public"].clone()),
        (json!("p2"), json!(false))
    );
    let p = ib.patch(
        "/v1/runbooks/rb-two",
        json!([{"op": "replace", "path": "/public", "value": true}]),
    );
    assert_eq!(
        (p.body["owner"].clone(), p.body["public"].clone()),
        (Value::Null, json!(true))
    );
    let p = ib.patch(
        "/v1/runbooks/rb-two",
        json!([{"op": "replace", "path": "/traits", "value": []}]),
    );
    assert_eq!(p.fault(), "Cannot patch /traits. Only the following can be updated: disable_ramdisk, extra, name, owner, public, steps, description");
    let p = at(
        &ib,
        "PATCH",
        "/v1/runbooks/rb-two",
        "1.92",
        Some(json!([{"op": "replace", "path": "/description", "value": "x"}])),
    );
    assert_eq!(p.fault(), "Cannot patch /description. Only the following can be updated: disable_ramdisk, extra, name, owner, public, steps");
    let p = ib.patch(
        "/v1/runbooks/rb-two",
        json!([{"op": "replace", "path": "/name", "value": "CUSTOM_RB1"}]),
    );
    assert_eq!(p.status, 409);
    let p = ib.patch(
        "/v1/runbooks/rb-two",
        json!([{"op": "replace", "path": "/steps/0/order", "value": -1}]),
    );
    assert_eq!(p.status, 400);
    // Names are logical names in every PATCH, even at 1.92.
    let p = at(
        &ib,
        "PATCH",
        "/v1/runbooks/rb-two",
        "1.92",
        Some(json!([{"op": "replace", "path": "/name", "value": "rb-three"}])),
    );
    assert_eq!(p.body["name"], "rb-three", "{}", p.body);
    assert!(p.body["updated_at"].is_string());

    // Traits (1.112): add one, replace all, remove one (absent: no-op), remove all.
    let t = |path: &str| ib.get(path).body["traits"].clone();
    assert_eq!(
        at(&ib, "GET", "/v1/runbooks/rb-three/traits", "1.111", None).status,
        404
    );
    let r = ib.put("/v1/runbooks/rb-three/traits/CUSTOM_A", Value::Null);
    assert_eq!(r.status, 204);
    assert!(r
        .header("Location")
        .unwrap()
        .ends_with("/v1/runbooks/rb-three/traits/CUSTOM_A"));
    assert_eq!(
        ib.put("/v1/runbooks/rb-three/traits/bad", Value::Null)
            .status,
        400
    );
    assert_eq!(
        ib.put(
            "/v1/runbooks/rb-three/traits",
            json!({"traits": ["CUSTOM_B", "CUSTOM_C", "CUSTOM_B"]})
        )
        .status,
        204
    );
    assert_eq!(
        t("/v1/runbooks/rb-three/traits"),
        json!(["CUSTOM_B", "CUSTOM_C"])
    );
    let usage = ib.put("/v1/runbooks/rb-three/traits", json!({}));
    assert!(
        usage
            .fault()
            .starts_with("A single runbook trait may be added via PUT"),
        "{}",
        usage.fault()
    );
    assert_eq!(
        ib.put(
            "/v1/runbooks/rb-three/traits/CUSTOM_D",
            json!({"traits": []})
        )
        .status,
        400
    );
    assert_eq!(
        ib.delete("/v1/runbooks/rb-three/traits/CUSTOM_ZZ").status,
        204
    );
    assert_eq!(
        ib.delete("/v1/runbooks/rb-three/traits/CUSTOM_B").status,
        204
    );
    assert_eq!(
        ib.get("/v1/runbooks/rb-three").body["traits"],
        json!(["CUSTOM_C"])
    );
    assert_eq!(ib.delete("/v1/runbooks/rb-three/traits").status, 204);
    assert_eq!(t("/v1/runbooks/rb-three/traits"), json!([]));

    assert_eq!(ib.delete("/v1/runbooks/rb-three").status, 204);
    assert_eq!(ib.get("/v1/runbooks/rb-three").status, 404);
    assert_eq!(
        at(&ib, "DELETE", "/v1/runbooks/CUSTOM_RB1", "1.91", None).status,
        405
    );
}

/// A fake-hardware node in `manageable`.
fn manageable(ib: &Ironbox) -> String {
    let u = ib.node(json!({"driver": "fake-hardware"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{u}/states/provision"),
            json!({"target": "manage"})
        )
        .status,
        202
    );
    ib.wait_state(&u, "manageable", 30);
    u
}

#[test]
fn runbook_in_manual_cleaning_is_checked_against_node_traits() {
    let ib = Ironbox::start();
    let n = manageable(&ib);
    let states = format!("/v1/nodes/{n}/states/provision");
    let created = ib.post(
        "/v1/runbooks",
        json!({"name": "CUSTOM_RAID", "steps": [step("raid", "create_configuration", json!(1))]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let rb = created.body["uuid"].as_str().unwrap().to_string();
    let node_before = ib.get(&format!("/v1/nodes/{n}")).body;

    // Refusals, each leaving the node as it was.
    let refusals = [
        ("1.91", json!({"target": "clean", "runbook": "CUSTOM_RAID"}), 406, "Request not acceptable.".to_string()),
        ("1.92", json!({"target": "clean", "runbook": "CUSTOM_RAID"}), 400,
         format!("This runbook has not been approved for use on this node {n}. Please ask an administrator to add it to your node traits.")),
        ("1.115", json!({"target": "clean", "runbook": "CUSTOM_RAID"}), 400,
         format!("Runbook {rb} has no traits configured. Please ask an administrator to add traits to the runbook.")),
        ("1.115", json!({"target": "clean", "runbook": "nope"}), 404, "Runbook nope could not be found.".to_string()),
        ("1.115", json!({"target": "clean", "runbook": 5}), 400,
         "Expected types <class 'NoneType'>, <class 'str'> for runbook: 5".to_string()),
    ];
    for (v, body, status, text) in &refusals {
        let r = at(&ib, "PUT", &states, v, Some(body.clone()));
        assert_eq!((r.status, r.fault()), (*status, text.clone()), "{v} {body}");
    }
    assert_eq!(
        ib.put(&format!("/v1/runbooks/{rb}/traits/CUSTOM_GPU"), Value::Null)
            .status,
        204
    );
    let r = ib.put(
        &states,
        json!({"target": "clean", "runbook": "CUSTOM_RAID"}),
    );
    assert_eq!(
        (r.status, r.fault()),
        (400, format!("This runbook has not been approved for use on this node {n}. The node does not have any of the runbook's traits ['CUSTOM_GPU']. Please ask an administrator to add a matching trait to your node."))
    );
    let node_after = ib.get(&format!("/v1/nodes/{n}")).body;
    for k in [
        "provision_state",
        "target_provision_state",
        "clean_step",
        "last_error",
        "updated_at",
    ] {
        assert_eq!(node_after[k], node_before[k], "{k} unchanged");
    }

    // Approved (by name below 1.112, by trait from it): the steps run as if given inline.
    assert_eq!(
        ib.put(&format!("/v1/nodes/{n}/traits/CUSTOM_RAID"), Value::Null)
            .status,
        204
    );
    let both = at(
        &ib,
        "PUT",
        &states,
        "1.92",
        Some(json!({"target": "clean", "runbook": "CUSTOM_RAID",
                    "clean_steps": [step("raid", "create_configuration", json!(1))]})),
    );
    assert_eq!(
        both.fault(),
        "Please provide either \"clean_steps\" or a runbook, but not both."
    );
    let provide = at(
        &ib,
        "PUT",
        &states,
        "1.92",
        Some(json!({"target": "provide", "runbook": "CUSTOM_RAID"})),
    );
    assert_eq!(
        provide.fault(),
        "disable_ramdisk is supported only with manual cleaning or servicing"
    );
    let r = at(
        &ib,
        "PUT",
        &states,
        "1.92",
        Some(json!({"target": "clean", "runbook": "CUSTOM_RAID"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let node = ib.wait_state(&n, "manageable", 30);
    assert_eq!(node["last_error"], Value::Null, "{node}");

    // By trait at 1.115 and by uuid; an unknown step fails the clean as inline steps do.
    assert_eq!(
        ib.put(&format!("/v1/nodes/{n}/traits/CUSTOM_GPU"), Value::Null)
            .status,
        204
    );
    ib.patch(
        &format!("/v1/runbooks/{rb}"),
        json!([{"op": "add", "path": "/steps/-", "value": step("bios", "no_such_step", json!(2))}]),
    );
    let r = ib.put(&states, json!({"target": "clean", "runbook": rb}));
    assert_eq!(r.status, 202, "{}", r.body);
    let node = ib.wait_state(&n, "clean failed", 30);
    assert!(
        node["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("no_such_step"),
        "{node}"
    );
}

#[test]
fn runbook_in_servicing_runs_its_steps_and_returns_to_active() {
    let ib = Ironbox::start();
    let n = manageable(&ib);
    let states = format!("/v1/nodes/{n}/states/provision");
    for (verb, want) in [("provide", "available"), ("active", "active")] {
        assert_eq!(ib.put(&states, json!({"target": verb})).status, 202);
        ib.wait_state(&n, want, 30);
    }
    let rb = ib.post(
        "/v1/runbooks",
        json!({"name": "svc-raid", "steps": [step("raid", "create_configuration", json!(1))]}),
    );
    assert_eq!(rb.status, 201, "{}", rb.body);
    assert_eq!(
        ib.put("/v1/runbooks/svc-raid/traits/CUSTOM_SVC", Value::Null)
            .status,
        204
    );
    assert_eq!(
        ib.put(&format!("/v1/nodes/{n}/traits/CUSTOM_SVC"), Value::Null)
            .status,
        204
    );
    // Below 1.112 approval is by name, which a logical name can never satisfy.
    let old = at(
        &ib,
        "PUT",
        &states,
        "1.108",
        Some(json!({"target": "service", "runbook": "svc-raid"})),
    );
    assert_eq!(
        (old.status, old.fault()),
        (400, format!("This runbook has not been approved for use on this node {n}. Please ask an administrator to add it to your node traits."))
    );
    let both = ib.put(
        &states,
        json!({"target": "service", "runbook": "svc-raid",
        "service_steps": [step("raid", "create_configuration", json!(1))]}),
    );
    assert_eq!(
        both.fault(),
        "Please provide either \"service_steps\" or a runbook, but not both."
    );
    let r = ib.put(&states, json!({"target": "service", "runbook": "svc-raid"}));
    assert_eq!(r.status, 202, "{}", r.body);
    let node = ib.wait_state(&n, "active", 30);
    assert_eq!(node["last_error"], Value::Null, "{node}");
}
