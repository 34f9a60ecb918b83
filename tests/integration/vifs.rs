//! VIFs (`/v1/nodes/{id}/vifs`, 1.28) through the real binary: the `flat` network
//! interface keeping them on ports and portgroups by Ironic's rules (portgroups first,
//! PXE ports next, physical networks, explicit port/portgroup), its refusals, `noop`
//! forgetting them as Ironic's does, and the `baremetal` CLI driving all three verbs.

use serde_json::{json, Value};

use crate::harness::Ironbox;

fn port(ib: &Ironbox, node: &str, mac: &str, extra: Value) -> String {
    let mut body = json!({"node_uuid": node, "address": mac});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = ib.post("/v1/ports", body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["uuid"].as_str().unwrap().to_string()
}

fn attach(ib: &Ironbox, node: &str, body: Value) -> crate::harness::Resp {
    ib.post(&format!("/v1/nodes/{node}/vifs"), body)
}

fn vifs(ib: &Ironbox, node: &str) -> Vec<String> {
    let r = ib.get(&format!("/v1/nodes/{node}/vifs"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["vifs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

fn vif_on(ib: &Ironbox, what: &str, uuid: &str) -> Value {
    ib.get(&format!("/v1/{what}/{uuid}")).body["internal_info"]["tenant_vif_port_id"].clone()
}

#[test]
fn flat_attaches_by_ironics_rules_and_detaches() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "vif-node", "network_interface": "flat"}));
    let u = n["uuid"].as_str().unwrap().to_string();
    assert_eq!(n["network_interface"], "flat");

    // Nothing to attach to yet.
    let r = attach(&ib, &u, json!({"id": "vif-0"}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.fault(),
        "Unable to attach VIF vif-0, not enough free physical ports."
    );

    let pxe = port(&ib, &u, "52:54:00:00:01:01", json!({"pxe_enabled": true}));
    let net1 = port(
        &ib,
        &u,
        "52:54:00:00:01:02",
        json!({"pxe_enabled": false, "physical_network": "physnet1"}),
    );
    let g = ib.post(
        "/v1/portgroups",
        json!({"node_uuid": u, "name": "bond0", "address": "52:54:00:00:02:00"}),
    );
    assert_eq!(g.status, 201, "{}", g.body);
    let g = g.body["uuid"].as_str().unwrap().to_string();
    let m1 = port(&ib, &u, "52:54:00:00:02:01", json!({"portgroup_uuid": g}));
    port(&ib, &u, "52:54:00:00:02:02", json!({"portgroup_uuid": g}));

    // Portgroups first, then PXE-enabled ports.
    assert_eq!(attach(&ib, &u, json!({"id": "vif-a"})).status, 204);
    assert_eq!(vif_on(&ib, "portgroups", &g), "vif-a");
    assert_eq!(attach(&ib, &u, json!({"id": "vif-b"})).status, 204);
    assert_eq!(vif_on(&ib, "ports", &pxe), "vif-b");

    // Only physnet1's port is left: another network's VIF finds nothing.
    let r = attach(
        &ib,
        &u,
        json!({"id": "vif-c", "physical_network": "physnet9"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.fault(),
        "Unable to attach VIF vif-c, not enough free physical ports."
    );
    let r = attach(
        &ib,
        &u,
        json!({"id": "vif-c", "physical_network": ["physnet1"]}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(vif_on(&ib, "ports", &net1), "vif-c");

    // Already attached: Ironic's 409, naming where.
    let r = attach(&ib, &u, json!({"id": "vif-a"}));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.fault(),
        format!("Unable to attach VIF vif-a because VIF vif-a is already attached to Ironic Portgroup {g}")
    );
    // All taken (the bond's members are not used alone while the bond is whole).
    let r = attach(&ib, &u, json!({"id": "vif-d"}));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = attach(&ib, &u, json!({"id": "vif-d", "port_uuid": m1}));
    assert_eq!(r.status, 400, "a bond member is no free port: {}", r.body);

    assert_eq!(
        vifs(&ib, &u),
        vec!["vif-b", "vif-c", "vif-a"],
        "ports, then portgroups"
    );
    // A port a VIF is bound to stays (Ironic's 409).
    let r = ib.delete(&format!("/v1/ports/{pxe}"));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.fault(),
        format!("Cannot delete the port {pxe} as it is bound to VIF vif-b for use.")
    );
    // The node's name works as well as its UUID.
    assert_eq!(vifs(&ib, "vif-node").len(), 3);

    // Detach: unknown VIF is Ironic's 400; a known one frees its portgroup.
    let r = ib.delete(&format!("/v1/nodes/{u}/vifs/nope"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.fault(),
        format!("Unable to detach VIF nope from node {u} because it is not attached to it.")
    );
    assert_eq!(ib.delete(&format!("/v1/nodes/{u}/vifs/vif-a")).status, 204);
    assert!(vif_on(&ib, "portgroups", &g).is_null());
    assert_eq!(vifs(&ib, &u), vec!["vif-b", "vif-c"]);

    // Explicit targets (1.67): the portgroup by name of key, and not both.
    let r = attach(&ib, &u, json!({"id": "vif-e", "portgroup_uuid": g}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(vif_on(&ib, "portgroups", &g), "vif-e");
    let r = attach(
        &ib,
        &u,
        json!({"id": "vif-f", "port_uuid": pxe, "portgroup_uuid": g}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.fault(),
        "Cannot specify both port_uuid and portgroup_uuid"
    );

    // A failed attach is in the node's history.
    let h = ib.get(&format!("/v1/nodes/{u}/history?detail=true")).body;
    assert!(
        h["history"].as_array().unwrap().iter().any(|e| e["event"]
            .as_str()
            .unwrap()
            .starts_with("Failed to attach VIF vif-a to node")),
        "{h}"
    );
}

#[test]
fn vif_requests_are_checked_and_gated() {
    let ib = Ironbox::start();
    let u = ib.node(json!({"network_interface": "flat"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1/nodes/{u}/vifs");
    for (body, fault) in [
        ("[]", "Schema error for vif: [] is not of type 'object'"),
        ("{}", "Schema error for vif: 'id' is a required property"),
        (
            r#"{"id": 5}"#,
            "Schema error for vif: 5 is not of type 'string'",
        ),
        (r#"{"id": "a b"}"#, "Expected UUID or name for id: a b"),
        ("{", "Malformed JSON"),
    ] {
        let r = ib.req("POST", &path, Some("latest"), Some(body));
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.fault().starts_with(fault), "{body}: {}", r.fault());
    }
    let r = ib.req(
        "DELETE",
        &format!("{path}/bad%20name"),
        Some("latest"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.fault(), "Expected UUID or name for vif_id: bad name");
    // Below 1.28 the resource does not exist.
    for (m, p, body) in [
        ("GET", path.clone(), None),
        ("POST", path.clone(), Some(r#"{"id": "x"}"#)),
        ("DELETE", format!("{path}/x"), None),
    ] {
        let r = ib.req(m, &p, Some("1.27"), body);
        assert_eq!(r.status, 404, "{m} {p}: {}", r.body);
    }
    assert_eq!(ib.req("GET", &path, Some("1.28"), None).status, 200);
    assert_eq!(ib.req("PUT", &path, Some("latest"), Some("{}")).status, 405);
    let r = ib.post("/v1/nodes/no-such-node/vifs", json!({"id": "x"}));
    assert_eq!(r.status, 404, "{}", r.body);
}

#[test]
fn noop_accepts_and_forgets_as_ironic_does() {
    let ib = Ironbox::start();
    let u = ib.node(json!({"network_interface": "noop"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    port(&ib, &u, "52:54:00:00:03:01", json!({}));
    assert_eq!(attach(&ib, &u, json!({"id": "vif-x"})).status, 204);
    assert!(vifs(&ib, &u).is_empty());
    assert_eq!(
        ib.delete(&format!("/v1/nodes/{u}/vifs/anything")).status,
        204
    );
}

#[test]
fn baremetal_cli_attaches_lists_and_detaches() {
    let ib = Ironbox::start();
    let u = ib.node(json!({"network_interface": "flat"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let p1 = port(&ib, &u, "52:54:00:00:04:01", json!({}));
    let p2 = port(&ib, &u, "52:54:00:00:04:02", json!({}));
    ib.cli_ok(&["node", "vif", "attach", &u, "vif-cli-1"]);
    ib.cli_ok(&["node", "vif", "attach", &u, "vif-cli-2", "--port-uuid", &p2]);
    assert_eq!(vif_on(&ib, "ports", &p1), "vif-cli-1");
    assert_eq!(vif_on(&ib, "ports", &p2), "vif-cli-2");
    let listed = ib.cli_json(&["node", "vif", "list", &u]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["vif-cli-1", "vif-cli-2"]);
    let (ok, _, err) = ib.cli(&["node", "vif", "attach", &u, "vif-cli-3"]);
    assert!(!ok);
    assert!(err.contains("not enough free physical ports"), "{err}");
    ib.cli_ok(&["node", "vif", "detach", &u, "vif-cli-1"]);
    let (ok, _, err) = ib.cli(&["node", "vif", "detach", &u, "vif-cli-1"]);
    assert!(!ok);
    assert!(err.contains("is not attached to it"), "{err}");
    assert_eq!(vifs(&ib, &u), vec!["vif-cli-2"]);
}
