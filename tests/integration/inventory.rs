//! Ports, portgroups, chassis, drivers and conductors through the real binary.

use serde_json::{json, Value};

use crate::harness::Ironbox;

fn uuid(v: &Value) -> String {
    v["uuid"].as_str().expect("uuid").to_string()
}

#[test]
fn ports() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "pn"}));
    let r = ib.post("/v1/ports", json!({"address": "52:54:00:AB:CD:EF", "node_uuid": n["uuid"], "physical_network": "physnet1",
        "local_link_connection": {"switch_id": "0a:1b:2c:3d:4e:5f", "port_id": "Ethernet1/1"}}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["address"], "52:54:00:ab:cd:ef",
        "MACs are stored lower-case"
    );
    assert_eq!(r.body["pxe_enabled"], true);
    let p = uuid(&r.body);
    let dup = ib.post(
        "/v1/ports",
        json!({"address": "52:54:00:ab:cd:ef", "node_uuid": n["uuid"]}),
    );
    assert_eq!(
        (dup.status, dup.fault()),
        (
            409,
            "A port with MAC address 52:54:00:ab:cd:ef already exists.".to_string()
        )
    );
    // node_ident (1.94) accepts a name.
    let r2 = ib.post(
        "/v1/ports",
        json!({"address": "52:54:00:00:00:02", "node_ident": "pn", "name": "eth1"}),
    );
    assert_eq!(r2.status, 201, "{}", r2.body);
    assert_eq!(ib.get("/v1/ports/eth1").body["uuid"], r2.body["uuid"]);

    assert_eq!(
        ib.get("/v1/ports").body["ports"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        ib.get("/v1/ports?address=52:54:00:AB:CD:EF").body["ports"][0]["uuid"],
        p.as_str()
    );
    assert_eq!(
        ib.get("/v1/ports?node=pn&limit=1").body["ports"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(ib.get("/v1/ports?node=pn&limit=1").body["next"]
        .as_str()
        .unwrap()
        .contains("node=pn"));
    assert_eq!(
        ib.get("/v1/nodes/pn/ports").body["ports"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(ib.get("/v1/nodes/pn/ports/detail").body["ports"][0]
        .get("extra")
        .is_some());
    assert!(ib.get("/v1/ports/detail").body["ports"][0]
        .get("local_link_connection")
        .is_some());

    let r = ib.patch(
        &format!("/v1/ports/{p}"),
        json!([{"op": "replace", "path": "/pxe_enabled", "value": false},
        {"op": "replace", "path": "/address", "value": "52:54:00:00:00:03"}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["pxe_enabled"].clone(), r.body["address"].clone()),
        (json!(false), json!("52:54:00:00:00:03"))
    );
    let r = ib.patch(&format!("/v1/ports/{p}"), json!([{"op": "replace", "path": "/node_uuid", "value": "11111111-2222-3333-4444-555555555555"}]));
    assert_eq!(r.status, 400);
    assert!(r
        .fault()
        .contains("Unable to apply the requested node_uuid"));
    // Older clients do not see newer fields.
    assert!(ib
        .req("GET", &format!("/v1/ports/{p}"), Some("1.1"), None)
        .body
        .get("pxe_enabled")
        .is_none());
    assert_eq!(ib.delete(&format!("/v1/ports/{p}")).status, 204);
    assert_eq!(ib.delete(&format!("/v1/ports/{p}")).status, 404);
}

#[test]
fn portgroups() {
    let ib = Ironbox::start();
    let n = ib.node(json!({"name": "gn"}));
    let g = ib.post(
        "/v1/portgroups",
        json!({"node_uuid": n["uuid"], "name": "bond0", "address": "52:54:00:00:01:01"}),
    );
    assert_eq!(g.status, 201, "{}", g.body);
    assert_eq!(g.body["mode"], "active-backup");
    assert_eq!(g.body["standalone_ports_supported"], true);
    let dup = ib.post(
        "/v1/portgroups",
        json!({"node_uuid": n["uuid"], "name": "bond0"}),
    );
    assert_eq!(
        (dup.status, dup.fault()),
        (
            409,
            "A portgroup with name bond0 already exists.".to_string()
        )
    );
    let p = ib.post("/v1/ports", json!({"address": "52:54:00:00:01:02", "node_uuid": n["uuid"], "portgroup_uuid": g.body["uuid"]}));
    assert_eq!(p.status, 201, "{}", p.body);
    assert_eq!(p.body["portgroup_uuid"], g.body["uuid"]);
    assert_eq!(
        ib.get("/v1/portgroups/bond0/ports").body["ports"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ib.get("/v1/nodes/gn/portgroups").body["portgroups"][0]["name"],
        "bond0"
    );
    assert_eq!(
        ib.get("/v1/portgroups?node=gn").body["portgroups"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = ib.patch(
        "/v1/portgroups/bond0",
        json!([{"op": "replace", "path": "/mode", "value": "802.3ad"}]),
    );
    assert_eq!(r.body["mode"], "802.3ad");
    let r = ib.delete("/v1/portgroups/bond0");
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("contains ports"));
    ib.delete(&format!("/v1/ports/{}", uuid(&p.body)));
    assert_eq!(ib.delete("/v1/portgroups/bond0").status, 204);
    assert_eq!(
        ib.req("GET", "/v1/portgroups", Some("1.22"), None).status,
        404
    );
    // A port cannot join a portgroup of another node.
    let other = ib.node(json!({}));
    let g2 = ib.post("/v1/portgroups", json!({"node_uuid": other["uuid"]}));
    let r = ib.post("/v1/ports", json!({"address": "52:54:00:00:01:03", "node_uuid": n["uuid"], "portgroup_uuid": g2.body["uuid"]}));
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn chassis() {
    let ib = Ironbox::start();
    let c = ib.post(
        "/v1/chassis",
        json!({"description": "rack 1", "extra": {"row": 3}}),
    );
    assert_eq!(c.status, 201);
    let cu = uuid(&c.body);
    assert_eq!(
        ib.get("/v1/chassis").body["chassis"][0]["description"],
        "rack 1"
    );
    assert_eq!(
        ib.get("/v1/chassis/detail").body["chassis"][0]["extra"]["row"],
        3
    );
    let n = ib.node(json!({"chassis_uuid": cu}));
    assert_eq!(n["chassis_uuid"], cu.as_str());
    assert_eq!(
        ib.get(&format!("/v1/chassis/{cu}/nodes")).body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ib.get(&format!("/v1/nodes?chassis_uuid={cu}")).body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = ib.delete(&format!("/v1/chassis/{cu}"));
    assert_eq!(
        (r.status, r.fault()),
        (
            400,
            format!("Cannot complete the requested action because chassis {cu} contains nodes.")
        )
    );
    let r = ib.post(
        "/v1/nodes",
        json!({"driver": "fake-hardware", "chassis_uuid": "11111111-2222-3333-4444-555555555555"}),
    );
    assert_eq!(
        (r.status, r.fault()),
        (
            400,
            "Chassis 11111111-2222-3333-4444-555555555555 could not be found.".to_string()
        )
    );
    let r = ib.patch(
        &format!("/v1/chassis/{cu}"),
        json!([{"op": "replace", "path": "/description", "value": "rack 2"}]),
    );
    assert_eq!(r.body["description"], "rack 2");
    ib.delete(&format!("/v1/nodes/{}", uuid(&n)));
    assert_eq!(ib.delete(&format!("/v1/chassis/{cu}")).status, 204);
    assert_eq!(ib.get(&format!("/v1/chassis/{cu}")).status, 404);
}

#[test]
fn drivers_and_conductors() {
    let ib = Ironbox::start();
    let d = ib.get("/v1/drivers").body;
    assert_eq!(d["drivers"][0]["name"], "fake-hardware");
    assert_eq!(d["drivers"][0]["hosts"], json!(["test-conductor"]));
    assert_eq!(d["drivers"][0]["type"], "dynamic");
    let one = ib.get("/v1/drivers/fake-hardware").body;
    assert_eq!(one["default_power_interface"], "fake");
    assert_eq!(one["default_network_interface"], "noop");
    assert!(one["enabled_management_interfaces"]
        .as_array()
        .unwrap()
        .contains(&json!("noop")));
    assert_eq!(
        ib.get("/v1/drivers?detail=true").body["drivers"][0]["default_boot_interface"],
        "fake"
    );
    assert_eq!(
        ib.get("/v1/drivers?type=classic").body["drivers"],
        json!([])
    );
    assert!(ib
        .get("/v1/drivers/fake-hardware/properties")
        .body
        .is_object());
    let r = ib.get("/v1/drivers/ilo");
    assert_eq!(
        (r.status, r.fault()),
        (
            404,
            "Could not find the following driver(s) or hardware type(s): ilo.".to_string()
        )
    );
    assert!(
        ib.req("GET", "/v1/drivers", Some("1.1"), None).body["drivers"][0]
            .get("type")
            .is_none()
    );

    let c = ib.get("/v1/conductors").body;
    assert_eq!(c["conductors"][0]["hostname"], "test-conductor");
    assert_eq!(c["conductors"][0]["alive"], true);
    let one = ib.get("/v1/conductors/test-conductor").body;
    assert_eq!(
        one["drivers"],
        json!([
            "fake-hardware",
            "manual-management",
            "ipmi",
            "redfish",
            "idrac"
        ])
    );
    let mm = ib.get("/v1/drivers/manual-management").body;
    assert_eq!(
        (
            mm["default_boot_interface"].clone(),
            mm["default_deploy_interface"].clone()
        ),
        (json!("ipxe"), json!("direct"))
    );
    assert_eq!(
        (
            mm["default_management_interface"].clone(),
            mm["default_power_interface"].clone()
        ),
        (json!("noop"), json!("fake"))
    );
    assert_eq!(mm["enabled_boot_interfaces"], json!(["ipxe", "pxe"]));
    // manual-management refuses interfaces it does not support.
    let r = ib.post(
        "/v1/nodes",
        json!({"driver": "manual-management", "boot_interface": "fake"}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.fault().contains("does not support boot interface"),
        "{}",
        r.fault()
    );
    assert_eq!(ib.get("/v1/conductors/nope").status, 404);
    assert_eq!(
        ib.req("GET", "/v1/conductors", Some("1.48"), None).status,
        404
    );
    assert_eq!(ib.get("/v1/shards").body["shards"], json!([]));
    ib.node(json!({"shard": "s1"}));
    ib.node(json!({}));
    ib.node(json!({"shard": "s1"}));
    assert_eq!(
        ib.get("/v1/shards").body["shards"],
        json!([{"name": "s1", "count": 2}, {"name": null, "count": 1}])
    );
    assert_eq!(
        ib.get("/v1/nodes?shard=s1").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        ib.get("/v1/nodes?sharded=false").body["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
