//! Allocations and deploy templates through the real binary.

use serde_json::{json, Value};

use std::time::Duration;

use crate::harness::{wait_until, Ironbox};

/// Create an allocation: answered `allocating` (201), then processed in the background;
/// polled, as clients do, until it is `active` or `error`. Returns the settled view.
fn allocate(ib: &Ironbox, body: Value) -> Value {
    let r = ib.post("/v1/allocations", body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["state"], "allocating", "{}", r.body);
    let uuid = r.body["uuid"].as_str().unwrap().to_string();
    wait_until(Duration::from_secs(30), || {
        let a = ib.get(&format!("/v1/allocations/{uuid}")).body;
        (a["state"] != "allocating").then_some(a)
    })
    .expect("the allocation settles")
}

/// A node taken enroll -> manage (which reads its power state) -> provide.
fn available(ib: &Ironbox, body: Value) -> String {
    let u = ib.node(body)["uuid"].as_str().unwrap().to_string();
    for (verb, want) in [("manage", "manageable"), ("provide", "available")] {
        assert_eq!(
            ib.put(
                &format!("/v1/nodes/{u}/states/provision"),
                json!({"target": verb})
            )
            .status,
            202
        );
        ib.wait_state(&u, want, 30);
    }
    u
}

#[test]
fn allocations_pick_matching_nodes() {
    let ib = Ironbox::start();
    let gold = available(&ib, json!({"resource_class": "gold", "name": "g1"}));
    ib.put(
        &format!("/v1/nodes/{gold}/traits"),
        json!({"traits": ["CUSTOM_GPU"]}),
    );
    let silver = available(&ib, json!({"resource_class": "silver"}));

    let a = allocate(
        &ib,
        json!({"resource_class": "gold", "traits": ["CUSTOM_GPU"], "name": "alloc-1"}),
    );
    assert_eq!(a["state"], "active");
    assert_eq!(a["node_uuid"], gold.as_str());
    let n = ib.get(&format!("/v1/nodes/{gold}")).body;
    assert_eq!(n["instance_uuid"], a["uuid"]);
    assert_eq!(n["allocation_uuid"], a["uuid"]);
    assert_eq!(n["instance_info"]["traits"], json!(["CUSTOM_GPU"]));
    assert_eq!(
        ib.get(&format!("/v1/nodes/{gold}/allocation")).body["name"],
        "alloc-1"
    );
    assert_eq!(ib.get("/v1/allocations/alloc-1").body["uuid"], a["uuid"]);
    assert_eq!(
        ib.get(&format!("/v1/allocations?node={gold}")).body["allocations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Nothing left with that class: error state with a reason.
    let b = allocate(&ib, json!({"resource_class": "gold"}));
    assert_eq!(b["state"], "error");
    assert!(b["last_error"]
        .as_str()
        .unwrap()
        .contains("no available nodes match the resource class gold"));
    // Candidate lists restrict the choice.
    let c = allocate(
        &ib,
        json!({"resource_class": "silver", "candidate_nodes": [silver.clone()]}),
    );
    assert_eq!(c["node_uuid"], silver.as_str());
    let dup = ib.post(
        "/v1/allocations",
        json!({"resource_class": "x", "name": "alloc-1"}),
    );
    assert_eq!(
        (dup.status, dup.fault()),
        (
            409,
            "An allocation with name alloc-1 already exists.".to_string()
        )
    );
    assert_eq!(
        ib.post("/v1/allocations", json!({"traits": []})).status,
        400,
        "resource_class is required"
    );
    assert_eq!(
        ib.req(
            "POST",
            "/v1/allocations",
            Some("1.51"),
            Some(r#"{"resource_class": "x"}"#)
        )
        .status,
        404
    );

    // PATCH name/extra only (1.57).
    let r = ib.patch(
        "/v1/allocations/alloc-1",
        json!([{"op": "add", "path": "/extra/k", "value": 1}]),
    );
    assert_eq!(r.body["extra"]["k"], 1);
    assert_eq!(
        ib.patch(
            "/v1/allocations/alloc-1",
            json!([{"op": "replace", "path": "/resource_class", "value": "x"}])
        )
        .status,
        400
    );

    // Deleting frees the node; a deployed node keeps it unless in maintenance.
    assert_eq!(ib.delete("/v1/allocations/alloc-1").status, 204);
    assert_eq!(
        ib.get(&format!("/v1/nodes/{gold}")).body["instance_uuid"],
        Value::Null
    );
    let d = allocate(&ib, json!({"resource_class": "gold"}));
    assert_eq!(d["state"], "active");
    let u = d["uuid"].as_str().unwrap();
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{gold}/states/provision"),
            json!({"target": "active"})
        )
        .status,
        202
    );
    ib.wait_state(&gold, "active", 30);
    assert_eq!(ib.delete(&format!("/v1/allocations/{u}")).status, 409);
    // Undeploying releases the allocation.
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{gold}/states/provision"),
            json!({"target": "deleted"})
        )
        .status,
        202
    );
    ib.wait_state(&gold, "available", 30);
    assert_eq!(ib.get(&format!("/v1/allocations/{u}")).status, 404);
}

#[test]
fn allocation_backfill() {
    let ib = Ironbox::start();
    let n = available(&ib, json!({"resource_class": "gold"}));
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{n}/states/provision"),
            json!({"target": "active"})
        )
        .status,
        202
    );
    ib.wait_state(&n, "active", 30);
    let a = ib.post("/v1/allocations", json!({"node": n}));
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.body["state"].clone(), a.body["resource_class"].clone()),
        (json!("active"), json!("gold"))
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes/{n}")).body["instance_uuid"],
        a.body["uuid"]
    );
    assert_eq!(
        ib.req(
            "POST",
            "/v1/allocations",
            Some("1.57"),
            Some(&json!({"node": n}).to_string())
        )
        .status,
        406
    );
}

#[test]
fn deploy_templates_add_steps_through_traits() {
    let ib = Ironbox::start();
    let t = ib.post(
        "/v1/deploy_templates",
        json!({"name": "CUSTOM_RAID1", "steps": [
        {"interface": "raid", "step": "apply_configuration", "args": {}, "priority": 50},
        {"interface": "deploy", "step": "hold", "args": {}, "priority": 40}]}),
    );
    assert_eq!(t.status, 201, "{}", t.body);
    assert_eq!(
        ib.get("/v1/deploy_templates").body["deploy_templates"][0]["name"],
        "CUSTOM_RAID1"
    );
    assert_eq!(
        ib.get("/v1/deploy_templates/CUSTOM_RAID1").body["steps"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let dup = ib.post("/v1/deploy_templates", json!({"name": "CUSTOM_RAID1", "steps": [{"interface": "raid", "step": "x", "args": {}, "priority": 1}]}));
    assert_eq!(dup.status, 409);
    for bad in [
        json!({"name": "raid1", "steps": []}),
        json!({"name": "CUSTOM_X", "steps": []}),
        json!({"name": "CUSTOM_X", "steps": [{"interface": "raid", "step": "x"}]}),
        json!({"name": "CUSTOM_X", "steps": [{"interface": "boot", "step": "x", "args": {}, "priority": 1}]}),
    ] {
        assert_eq!(
            ib.post("/v1/deploy_templates", bad.clone()).status,
            400,
            "{bad}"
        );
    }
    // A node whose instance traits name the template runs its steps (here: parks in the hold).
    let r = ib.req(
        "POST",
        "/v1/nodes",
        Some("1.10"),
        Some(r#"{"driver": "fake-hardware", "instance_info": {"traits": ["CUSTOM_RAID1"]}}"#),
    );
    let n = r.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{n}/states/provision"),
            json!({"target": "active"})
        )
        .status,
        202
    );
    let node = ib.wait_state(&n, "deploy hold", 30);
    assert_eq!(node["deploy_step"]["step"], "hold");
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{n}/states/provision"),
            json!({"target": "unhold"})
        )
        .status,
        202
    );
    ib.wait_state(&n, "active", 30);
    // A template with a step the driver lacks makes the deploy request fail up front.
    ib.patch("/v1/deploy_templates/CUSTOM_RAID1", json!([{"op": "replace", "path": "/steps", "value": [{"interface": "bios", "step": "nope", "args": {}, "priority": 10}]}]));
    let r2 = ib.req(
        "POST",
        "/v1/nodes",
        Some("1.10"),
        Some(r#"{"driver": "fake-hardware", "instance_info": {"traits": ["CUSTOM_RAID1"]}}"#),
    );
    let m = r2.body["uuid"].as_str().unwrap();
    let r = ib.put(
        &format!("/v1/nodes/{m}/states/provision"),
        json!({"target": "active"}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.fault().contains("Validation of deploy templates failed"),
        "{}",
        r.fault()
    );
    assert_eq!(ib.delete("/v1/deploy_templates/CUSTOM_RAID1").status, 204);
    assert_eq!(
        ib.req("GET", "/v1/deploy_templates", Some("1.54"), None)
            .status,
        404
    );
}

#[test]
fn allocations_caught_allocating_by_a_restart_are_resumed() {
    let mut ib = Ironbox::start();
    let a = allocate(&ib, json!({"resource_class": "none-such", "name": "stuck"}));
    assert_eq!(a["state"], "error");
    // As if the process had died before its worker ran: back to `allocating` on disk.
    ib.kill();
    let db = rusqlite::Connection::open(ib.data().join("ironbox.sqlite")).unwrap();
    let changed = db
        .execute(
            "UPDATE allocations SET state = 'allocating', last_error = NULL WHERE name = 'stuck'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    ib.spawn();
    let settled = wait_until(Duration::from_secs(30), || {
        let a = ib.get("/v1/allocations/stuck").body;
        (a["state"] != "allocating").then_some(a)
    })
    .expect("the restarted conductor processes it");
    assert_eq!(settled["state"], "error");
    assert!(settled["last_error"]
        .as_str()
        .unwrap()
        .contains("no available nodes match the resource class none-such"));
}
