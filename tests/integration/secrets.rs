//! Secrets on every surface. A generated list of secret-looking keys (each marker word in
//! many spellings, including keys no driver uses) gets a fresh random value per field, and
//! is planted in every JSON field that can hold one: a node's `driver_info`,
//! `instance_info`, `extra`, `properties`, `driver_internal_info` (written into the
//! database file, which the API cannot set), nested objects and arrays, the `extra` of
//! ports, portgroups, chassis and allocations, deploy templates' step arguments, URLs with
//! a password under harmless keys, a maintenance reason, an old history row, and the
//! bodies of wrong-typed requests. Then every read surface (show, lists with `fields`,
//! detail, create and PATCH responses, states, validate, history, error bodies) and the
//! server's log are searched for every value. The other side is checked too: keys that
//! only describe a secret (`redfish_auth_type`, `snmp_auth_protocol`), user names and
//! the rest of a URL stay visible.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::harness::Ironbox;

/// Marker words: each one alone must make a key secret, whatever surrounds it.
const MARKERS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "community",
    "credential",
    "credentials",
    "cookie",
    "signature",
];

/// Words that are secrets when they end the key (or only value words follow).
const WEAK: &[&str] = &["auth", "private", "session"];

/// Keys named in the issue and by real drivers ironbox does not have, spelled as they are.
const KNOWN: &[&str] = &[
    "snmp_auth_key",
    "snmp_priv_key",
    "snmp_community",
    "snmp_community_string",
    "ssh_key_contents",
    "foo_password",
    "X-Secret",
    "apiKey",
    "APIKey",
    "my_token",
    "vendor_credential",
    "bmc_passwd",
    "kg_key",
    "ipmi_kg_key",
    "ipmi_password",
    "redfish_password",
    "irmc_snmp_auth_password",
    "private_key",
    "priv_key",
    "auth_key",
    "X-Auth-Token",
    "Authorization",
    "temp_url_sig",
    "aws_secret_access_key",
    "image_pull_secret",
    "sessionid",
    "adminpass",
    "sys_pswd",
    "chapPassword",
];

fn capitalized(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Every key the test plants: each marker in prefixes, suffixes, separators and casings,
/// the weak words where they name a value, compounds, and the known keys.
fn secret_keys() -> Vec<String> {
    let mut keys = BTreeSet::new();
    for m in MARKERS {
        let cap = capitalized(m);
        keys.extend([
            m.to_string(),
            format!("foo_{m}"),
            format!("snmp_auth_{m}"),
            format!("{m}_value"),
            format!("X-{cap}"),
            format!("my{cap}"),
            format!("vendor.{m}"),
            format!("bmc-{m}"),
            m.to_uppercase(),
            format!("Some{cap}Data"),
            format!("{m}2"),
            format!("unheard_of_driver_{m}_material"),
        ]);
    }
    for m in ["key", "pass", "pwd"] {
        keys.extend([format!("api{m}"), format!("admin{m}")]);
    }
    for w in WEAK {
        keys.extend([
            w.to_string(),
            format!("snmp_{w}"),
            format!("{w}_id"),
            format!("X-{}", capitalized(w)),
        ]);
    }
    keys.extend(KNOWN.iter().map(|k| k.to_string()));
    keys.into_iter().collect()
}

/// Keys that describe a secret or name something else: they must stay visible.
const VISIBLE: &[&str] = &[
    "redfish_auth_type",
    "snmp_auth_protocol",
    "snmp_priv_protocol",
    "ipmi_username",
    "ipmi_priv_level",
    "auth_strategy",
    "keyboard_layout",
    "ssh_key_file",
    "private_network",
];

/// The planted values, each unique and random, so one found anywhere is one leaked.
#[derive(Default)]
struct Planted {
    values: Vec<String>,
}

impl Planted {
    fn value(&mut self) -> String {
        let v = format!(
            "zq{:016x}{:08x}",
            rand::random::<u64>(),
            rand::random::<u32>()
        );
        self.values.push(v.clone());
        v
    }

    /// A map of every secret key to a fresh value: mostly strings, some numbers, objects
    /// and arrays (a secret key hides its whole value).
    fn map(&mut self) -> Map<String, Value> {
        let mut m = Map::new();
        for (i, k) in secret_keys().into_iter().enumerate() {
            let v = self.value();
            let val = match i % 9 {
                4 => {
                    // A number: digits only, found as such in any body.
                    let n =
                        1_000_000_000_000_000u64 + rand::random::<u64>() % 1_000_000_000_000_000;
                    self.values.push(n.to_string());
                    json!(n)
                }
                6 => json!({"inner": v, "user": "u"}),
                8 => json!([v]),
                _ => json!(v),
            };
            m.insert(k, val);
        }
        m
    }

    /// A secret map with nested copies and harmless keys whose values carry credentials.
    fn blob(&mut self) -> Map<String, Value> {
        let mut m = self.map();
        let nested = Value::Object(self.map());
        m.insert("nested".into(), json!({"deeper": [nested, "plain"]}));
        let (a, b, c, d) = (self.value(), self.value(), self.value(), self.value());
        m.insert(
            "some_url".into(),
            json!(format!("https://admin:{a}@10.0.0.9:8443/x")),
        );
        m.insert(
            "schemeless".into(),
            json!(format!("root:{b}@bmc.example.com")),
        );
        m.insert(
            "swift".into(),
            json!(format!("http://s/v1/o?temp_url_sig={c}&temp_url_expires=9")),
        );
        m.insert(
            "kernel_append_params".into(),
            json!(format!("console=ttyS0 root_password={d}")),
        );
        for k in VISIBLE {
            m.insert(k.to_string(), json!(format!("visible-{k}")));
        }
        m
    }
}

/// A text surface and where it came from.
struct Surfaces(Vec<(String, String)>);

impl Surfaces {
    fn add(&mut self, what: impl Into<String>, body: &Value) {
        self.0.push((what.into(), body.to_string()));
    }

    fn get(&mut self, ib: &Ironbox, path: &str) -> Value {
        let r = ib.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        self.add(format!("GET {path}"), &r.body);
        r.body
    }

    /// A request that must fail; its error body is a surface.
    fn refused(&mut self, ib: &Ironbox, method: &str, path: &str, body: &Value) -> String {
        let r = ib.req(method, path, Some("latest"), Some(&body.to_string()));
        assert!(
            (400..500).contains(&r.status),
            "{method} {path} {body}: {} {}",
            r.status,
            r.body
        );
        self.add(format!("{method} {path} -> {}", r.status), &r.body);
        r.fault()
    }
}

fn db(ib: &Ironbox) -> rusqlite::Connection {
    rusqlite::Connection::open(ib.data().join("ironbox.sqlite")).expect("open the database")
}

#[test]
fn no_secret_on_any_surface() {
    let mut ib = Ironbox::start();
    let mut p = Planted::default();
    let mut s = Surfaces(vec![]);

    // A node with secrets in every JSON field it accepts, URLs with passwords in harmless keys.
    let mut driver_info = p.blob();
    let kernel_pw = p.value();
    driver_info.insert(
        "deploy_kernel".into(),
        json!(format!("http://deployer:{kernel_pw}@10.0.0.1/k")),
    );
    let mut instance_info = p.blob();
    let (src_pw, cd) = (p.value(), p.value());
    instance_info.insert(
        "image_source".into(),
        json!(format!("https://glance:{src_pw}@images/x.qcow2")),
    );
    instance_info.insert(
        "image_url".into(),
        json!(format!("https://swift/x?sig={}", p.value())),
    );
    instance_info.insert("configdrive".into(), json!(cd));
    let created = ib.post(
        "/v1/nodes",
        json!({"driver": "fake-hardware", "name": "sec", "driver_info": driver_info,
               "instance_info": instance_info, "extra": p.blob(), "properties": p.blob()}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    s.add("POST /v1/nodes", &created.body);
    let n = created.body["uuid"].as_str().unwrap().to_string();

    // PATCH adds more, at secret paths and inside new objects.
    let mut ops = vec![];
    for k in secret_keys().iter().take(20) {
        ops.push(json!({"op": "add", "path": format!("/driver_info/{k}"), "value": p.value()}));
        let mut inner = Map::new();
        inner.insert(k.clone(), json!(p.value()));
        ops.push(json!({"op": "add", "path": format!("/extra/patched_{k}"), "value": inner}));
    }
    let patched = ib.patch(&format!("/v1/nodes/{n}"), Value::Array(ops));
    assert_eq!(patched.status, 200, "{}", patched.body);
    s.add("PATCH /v1/nodes", &patched.body);

    // A maintenance reason quoting a BMC URL with its password.
    let reason_pw = p.value();
    let r = ib.put(
        &format!("/v1/nodes/{n}/maintenance"),
        json!({"reason": format!("BMC http://root:{reason_pw}@10.0.0.9 answers 401")}),
    );
    assert_eq!(r.status, 202, "{}", r.body);

    // driver_internal_info cannot be set through the API: write it into the database, with
    // an old history row that quotes a URL password (rows from before masking).
    let dii = Value::Object(p.blob()).to_string();
    let dii_probe = p.values.last().unwrap().clone();
    let old_event = format!(
        "Failed: http://admin:{}@bmc/redfish token={}",
        p.value(),
        p.value()
    );
    ib.terminate();
    {
        let c = db(&ib);
        assert_eq!(
            c.execute(
                "UPDATE nodes SET driver_internal_info = ?1 WHERE uuid = ?2",
                rusqlite::params![dii, n]
            )
            .unwrap(),
            1
        );
        c.execute(
            "INSERT INTO node_history (uuid, node_id, severity, event_type, event, created_at) \
             SELECT ?1, id, 'ERROR', 'power', ?2, '2026-01-01T00:00:00.000000+00:00' FROM nodes WHERE uuid = ?3",
            rusqlite::params!["7f0c1d7e-0000-4000-8000-00000000a001", old_event, n],
        )
        .unwrap();
    }
    ib.spawn();

    // A Redfish node whose address carries credentials: validate, power and manage all
    // report the address; the failure lands in last_error and history.
    let bmc_pw = p.value();
    let rf = ib.post(
        "/v1/nodes",
        json!({"driver": "redfish", "driver_info": {
            "redfish_address": format!("https://admin:{bmc_pw}@127.0.0.1:9/"),
            "redfish_username": "admin", "redfish_auth_type": "basic"}}),
    );
    assert_eq!(rf.status, 201, "{}", rf.body);
    s.add("POST /v1/nodes (redfish)", &rf.body);
    let rf = rf.body["uuid"].as_str().unwrap().to_string();
    let v = s.get(&ib, &format!("/v1/nodes/{rf}/validate"));
    assert!(
        v["power"]["reason"]
            .as_str()
            .unwrap()
            .contains("Invalid Redfish address https://admin:******@127.0.0.1:9/"),
        "{v}"
    );
    s.refused(
        &ib,
        "PUT",
        &format!("/v1/nodes/{rf}/states/power"),
        &json!({"target": "power on"}),
    );
    let r = ib.put(
        &format!("/v1/nodes/{rf}/states/provision"),
        json!({"target": "manage"}),
    );
    s.add("PUT manage (redfish)", &r.body);
    if r.status == 202 {
        let failed = crate::harness::wait_until(std::time::Duration::from_secs(30), || {
            let n = ib.get(&format!("/v1/nodes/{rf}")).body;
            (n["reservation"].is_null() && !n["last_error"].is_null()).then_some(n)
        })
        .expect("manage fails with last_error");
        assert!(
            failed["last_error"]
                .as_str()
                .unwrap()
                .contains("admin:******@"),
            "{failed}"
        );
    }

    // Ports, portgroups, chassis, allocations, deploy templates.
    let pg = ib.post(
        "/v1/portgroups",
        json!({"node_uuid": n, "name": "pg0", "extra": p.blob()}),
    );
    assert_eq!(pg.status, 201, "{}", pg.body);
    s.add("POST /v1/portgroups", &pg.body);
    let pg = pg.body["uuid"].as_str().unwrap().to_string();
    let port = ib.post(
        "/v1/ports",
        json!({"node_uuid": n, "address": "52:54:00:5e:c0:01", "extra": p.blob()}),
    );
    assert_eq!(port.status, 201, "{}", port.body);
    s.add("POST /v1/ports", &port.body);
    let port = port.body["uuid"].as_str().unwrap().to_string();
    let r = ib.patch(
        &format!("/v1/ports/{port}"),
        json!([{"op": "add", "path": "/extra/bmc_password", "value": p.value()}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    s.add("PATCH /v1/ports", &r.body);
    let ch = ib.post(
        "/v1/chassis",
        json!({"description": "rack", "extra": p.blob()}),
    );
    assert_eq!(ch.status, 201, "{}", ch.body);
    s.add("POST /v1/chassis", &ch.body);
    let ch = ch.body["uuid"].as_str().unwrap().to_string();
    let al = ib.post(
        "/v1/allocations",
        json!({"resource_class": "none-such", "extra": p.blob()}),
    );
    assert_eq!(al.status, 201, "{}", al.body);
    s.add("POST /v1/allocations", &al.body);
    let al = al.body["uuid"].as_str().unwrap().to_string();
    let dt = ib.post(
        "/v1/deploy_templates",
        json!({"name": "CUSTOM_SECRETS", "extra": p.blob(), "steps": [
            {"interface": "bios", "step": "apply_configuration", "args": p.blob(), "priority": 10}]}),
    );
    assert_eq!(dt.status, 201, "{}", dt.body);
    s.add("POST /v1/deploy_templates", &dt.body);
    let rb = ib.post(
        "/v1/runbooks",
        json!({"name": "CUSTOM_SECRETS", "extra": p.blob(), "steps": [
            {"interface": "bios", "step": "apply_configuration", "args": p.blob(), "order": 1}]}),
    );
    assert_eq!(rb.status, 201, "{}", rb.body);
    s.add("POST /v1/runbooks", &rb.body);

    // Wrong-typed and otherwise refused submits that echo what they got.
    let secrets = Value::Object(p.map());
    let nodes = "/v1/nodes";
    let node = format!("/v1/nodes/{n}");
    for bad in [
        json!({"driver": "fake-hardware", "driver_info": secrets.to_string()}),
        json!({"driver": "fake-hardware", "driver_info": [secrets.clone()]}),
        json!({"driver": "fake-hardware", "extra": format!("ipmi_password={}", p.value())}),
        json!({"driver": "fake-hardware", "instance_info": p.value()}),
        json!({"driver": "fake-hardware", "properties": [p.value()]}),
    ] {
        let why = s.refused(&ib, "POST", nodes, &bad);
        assert!(why.contains("is not of type 'object'"), "{why}");
    }
    s.refused(
        &ib,
        "PATCH",
        &node,
        &json!({"op": "add", "path": "/driver_info/ipmi_password", "value": p.value()}),
    );
    s.refused(
        &ib,
        "PATCH",
        &node,
        &json!([{"op": "replace", "path": "/driver_info/none/ipmi_password", "value": p.value()}]),
    );
    s.refused(
        &ib,
        "PATCH",
        &node,
        &json!([{"op": "replace", "path": "/extra/none/x", "value": secrets.clone()}]),
    );
    s.refused(
        &ib,
        "PATCH",
        &node,
        &json!([{"op": "replace", "path": "/extra", "value": [p.value()]}]),
    );
    s.refused(
        &ib,
        "PATCH",
        &node,
        &json!([{"op": "replace", "path": "/driver_info", "value": p.value()}]),
    );
    s.refused(
        &ib,
        "PATCH",
        &node,
        &json!([{"op": "add", "path": "/extra/x", "value": secrets.clone(), "from": 1}]),
    );
    s.refused(
        &ib,
        "POST",
        "/v1/ports",
        &json!({"address": "52:54:00:5e:c0:02", "extra": secrets.clone()}),
    );
    s.refused(
        &ib,
        "POST",
        "/v1/ports",
        &json!({"address": "52:54:00:5e:c0:02", "node_uuid": n, "extra": p.value()}),
    );
    s.refused(
        &ib,
        "POST",
        "/v1/chassis",
        &json!({"extra": [secrets.clone()]}),
    );
    s.refused(
        &ib,
        "POST",
        "/v1/deploy_templates",
        &json!({"name": "CUSTOM_BAD", "steps": [{"interface": "bios", "step": "", "args": secrets.clone(), "priority": 1}]}),
    );
    s.refused(
        &ib,
        "POST",
        "/v1/deploy_templates",
        &json!({"name": "CUSTOM_BAD", "steps": secrets.clone()}),
    );
    s.refused(
        &ib,
        "POST",
        "/v1/runbooks",
        &json!({"name": "CUSTOM_BAD", "steps": [{"interface": "bios", "step": "x", "args": [secrets.clone()], "order": 1}]}),
    );
    // Provisioning arguments: a second node, manageable, so its verbs get that far.
    let n2 = ib.node(json!({"name": "sec2"}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ib.put(
            &format!("/v1/nodes/{n2}/states/provision"),
            json!({"target": "manage"})
        )
        .status,
        202
    );
    ib.wait_state(&n2, "manageable", 30);
    let prov = format!("/v1/nodes/{n2}/states/provision");
    let why = s.refused(
        &ib,
        "PUT",
        &prov,
        &json!({"target": "clean", "clean_steps": secrets.clone()}),
    );
    assert!(why.contains("is not of type 'array'"), "{why}");
    let why = s.refused(
        &ib,
        "PUT",
        &prov,
        &json!({"target": "clean", "clean_steps": [{"interface": "deploy", "step": "erase_devices", "args": format!("password={}", p.value())}]}),
    );
    assert!(why.contains("is not of type 'object'"), "{why}");
    s.refused(
        &ib,
        "PUT",
        &prov,
        &json!({"target": "clean", "clean_steps": [p.value()]}),
    );
    s.refused(
        &ib,
        "PUT",
        &prov,
        &json!({"target": "active", "configdrive": [p.value()]}),
    );
    s.refused(
        &ib,
        "PUT",
        &prov,
        &json!({"target": "rescue", "rescue_password": [p.value()]}),
    );

    // Every read surface.
    let fields = "driver_info,instance_info,extra,properties,driver_internal_info,last_error,maintenance_reason";
    for v in ["latest", "1.1", "1.3"] {
        let r = ib.req("GET", &node, Some(v), None);
        assert_eq!(r.status, 200);
        s.add(format!("GET {node} @{v}"), &r.body);
    }
    let shown = s.get(&ib, &node);
    s.get(&ib, &format!("{node}?fields={fields}"));
    s.get(&ib, &format!("/v1/nodes?fields=uuid,{fields}"));
    s.get(&ib, "/v1/nodes/detail");
    s.get(&ib, "/v1/nodes?detail=true");
    s.get(&ib, &format!("{node}/states"));
    s.get(&ib, &format!("{node}/validate"));
    s.get(&ib, &format!("/v1/nodes/{rf}"));
    s.get(&ib, &format!("/v1/nodes/{rf}/states"));
    for id in [&n, &rf] {
        let h = s.get(&ib, &format!("/v1/nodes/{id}/history?detail=true"));
        s.get(&ib, &format!("/v1/nodes/{id}/history"));
        for e in h["history"].as_array().unwrap() {
            s.get(
                &ib,
                &format!("/v1/nodes/{id}/history/{}", e["uuid"].as_str().unwrap()),
            );
        }
    }
    for path in [
        "/v1/ports/detail".to_string(),
        format!("/v1/ports/{port}"),
        "/v1/ports?fields=uuid,extra".into(),
        format!("{node}/ports/detail"),
        "/v1/portgroups/detail".into(),
        format!("/v1/portgroups/{pg}"),
        "/v1/portgroups?fields=uuid,extra".into(),
        format!("{node}/portgroups/detail"),
        format!("/v1/portgroups/{pg}/ports/detail"),
        "/v1/chassis/detail".into(),
        format!("/v1/chassis/{ch}"),
        "/v1/allocations".into(),
        format!("/v1/allocations/{al}"),
        "/v1/deploy_templates?detail=true".into(),
        "/v1/deploy_templates/CUSTOM_SECRETS".into(),
        "/v1/runbooks?detail=true".into(),
        "/v1/runbooks/CUSTOM_SECRETS".into(),
    ] {
        s.get(&ib, &path);
    }
    // Wait for the allocation to fail (no node has its class): its last_error is shown too.
    crate::harness::wait_until(std::time::Duration::from_secs(10), || {
        (ib.get(&format!("/v1/allocations/{al}")).body["state"] == "error").then_some(())
    });
    s.get(&ib, &format!("/v1/allocations/{al}"));
    s.0.push(("the server log".into(), ib.log()));

    // The planted values are really there (the test would see a leak)...
    let stored: String = db(&ib)
        .query_row(
            "SELECT driver_info || instance_info || extra || properties || driver_internal_info FROM nodes WHERE uuid = ?1",
            [&n],
            |r| r.get(0),
        )
        .unwrap();
    for v in [&kernel_pw, &src_pw, &cd, &dii_probe] {
        assert!(stored.contains(v.as_str()), "{v} was not stored");
    }
    // ...and appear on no surface.
    let mut leaks = vec![];
    for (what, text) in &s.0 {
        for v in &p.values {
            if let Some(at) = text.find(v.as_str()) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(120)
                    .map_or(0, |(i, _)| i);
                let excerpt: String = text[from..].chars().take(200).collect();
                leaks.push(format!("{what}: {v} in ...{excerpt}..."));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );

    // The other side: masked keys are there as ******, descriptions and URLs stay readable.
    let di = &shown["driver_info"];
    for k in secret_keys() {
        assert_eq!(di[&k], "******", "driver_info.{k}: {di}");
        assert_eq!(
            shown["driver_internal_info"][&k], "******",
            "driver_internal_info.{k}"
        );
    }
    for k in VISIBLE {
        for field in [
            "driver_info",
            "extra",
            "properties",
            "instance_info",
            "driver_internal_info",
        ] {
            assert_eq!(shown[field][k], format!("visible-{k}"), "{field}.{k}");
        }
    }
    assert_eq!(di["deploy_kernel"], "http://deployer:******@10.0.0.1/k");
    assert_eq!(di["some_url"], "https://admin:******@10.0.0.9:8443/x");
    assert_eq!(di["schemeless"], "root:******@bmc.example.com");
    assert_eq!(
        di["swift"],
        "http://s/v1/o?temp_url_sig=******&temp_url_expires=9"
    );
    assert_eq!(
        di["kernel_append_params"],
        "console=ttyS0 root_password=******"
    );
    assert_eq!(di["nested"]["deeper"][1], "plain");
    assert_eq!(di["nested"]["deeper"][0]["foo_password"], "******");
    assert_eq!(
        shown["instance_info"]["image_source"],
        "https://glance:******@images/x.qcow2"
    );
    assert_eq!(shown["instance_info"]["image_url"], "******");
    assert_eq!(shown["instance_info"]["configdrive"], "******");
    assert_eq!(
        shown["maintenance_reason"],
        "BMC http://root:******@10.0.0.9 answers 401"
    );
    let rf_shown = ib.get(&format!("/v1/nodes/{rf}")).body;
    assert_eq!(rf_shown["driver_info"]["redfish_auth_type"], "basic");
    assert_eq!(rf_shown["driver_info"]["redfish_username"], "admin");
}
