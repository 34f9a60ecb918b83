//! `/v1/inspection_rules` (1.96) on the real binary: create/list/show/patch/delete and
//! delete-all, sensitive masking, every bad rule with Ironic's status and message, and the
//! microversion gate. The expected messages were recorded from Ironic 39.0.0 answering the
//! same requests (noauth, sqlite, fake-hardware); where Ironic 39 answers 500 (wrong
//! operator arguments, a non-UUID uuid, DELETE of the collection) ironbox gives 400/204
//! with the message Ironic's validation code means, as asserted below.

use serde_json::{json, Value};

use crate::harness::Ironbox;

const LOG: &str = r#"[{"op": "log", "args": {"msg": "hi"}}]"#;

fn log_action() -> Value {
    serde_json::from_str(LOG).unwrap()
}

fn at(ib: &Ironbox, method: &str, path: &str, v: &str, body: Option<Value>) -> (u16, Value) {
    let text = body.map(|b| b.to_string());
    let r = ib.req(method, path, Some(v), text.as_deref());
    (r.status, r.body)
}

fn fault(ib: &Ironbox, method: &str, path: &str, body: Value) -> (u16, String) {
    let r = ib.req(method, path, Some("1.96"), Some(&body.to_string()));
    let msg = if r.status >= 400 {
        r.fault()
    } else {
        String::new()
    };
    (r.status, msg)
}

#[test]
fn inspection_rules_crud_and_masking() {
    let ib = Ironbox::start();
    let uuid = "11111111-2222-3333-4444-555555555555";
    let r = ib.post(
        "/v1/inspection_rules",
        json!({"uuid": uuid, "description": "big memory", "priority": 50,
               "conditions": [{"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 4096]}, "extra_key": 1}],
               "actions": [{"op": "add-trait", "args": {"name": "CUSTOM_BIG"}, "loop": []}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("{}/v1/inspection_rules/{uuid}", ib.url).as_str())
    );
    // As Ironic shows them: op and args (loop and multiple only when looping).
    assert_eq!(
        r.body["conditions"],
        json!([{"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 4096]}}])
    );
    assert_eq!(
        r.body["actions"],
        json!([{"op": "add-trait", "args": {"name": "CUSTOM_BIG"}}])
    );
    assert_eq!(r.body["phase"], "main");
    assert_eq!(r.body["sensitive"], false);
    assert_eq!(r.body["updated_at"], Value::Null);

    // Sensitive: conditions and actions null everywhere, and it cannot be unset.
    let s = ib.post(
        "/v1/inspection_rules",
        json!({"sensitive": true, "priority": 10,
               "conditions": [{"op": "eq", "args": {"values": ["{item}", 1]}, "loop": [1]}],
               "actions": [{"op": "set-attribute", "args": {"path": "/driver_info/ipmi_password", "value": "s3cret"}}]}),
    );
    assert_eq!(s.status, 201, "{}", s.body);
    assert_eq!(s.body["actions"], Value::Null);
    assert_eq!(s.body["conditions"], Value::Null);
    let su = s.body["uuid"].as_str().unwrap().to_string();
    for path in [
        format!("/v1/inspection_rules/{su}"),
        format!("/v1/inspection_rules/{su}?fields=uuid,actions"),
        "/v1/inspection_rules?detail=true".to_string(),
        "/v1/inspection_rules?fields=uuid,actions,conditions".to_string(),
    ] {
        let r = ib.get(&path);
        assert_eq!(r.status, 200, "{path}");
        assert!(!r.body.to_string().contains("s3cret"), "{path}: {}", r.body);
    }
    assert_eq!(
        ib.get(&format!("/v1/inspection_rules/{su}")).body["actions"],
        Value::Null
    );
    let (st, msg) = fault(
        &ib,
        "PATCH",
        &format!("/v1/inspection_rules/{su}"),
        json!([{"op": "replace", "path": "/sensitive", "value": false}]),
    );
    assert_eq!(st, 400);
    assert_eq!(msg, "Couldn't apply patch '[{'op': 'replace', 'path': '/sensitive', 'value': False}]'. Reason: Inspection rules cannot have the sensitive flag unset.");
    // The stored rule still has its actions (the engine needs them): a non-sensitive patch
    // of another field keeps them.
    let p = ib.patch(
        &format!("/v1/inspection_rules/{su}"),
        json!([{"op": "replace", "path": "/description", "value": "creds"}]),
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["actions"], Value::Null);

    // List: default fields, detail, fields, sort, paging, phase filter.
    let l = ib.get("/v1/inspection_rules");
    let rules = l.body["inspection_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    let mut keys: Vec<&String> = rules[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["description", "links", "phase", "priority", "uuid"]);
    assert_eq!(
        rules[0]["links"][0]["href"],
        format!("{}/v1/inspection_rules/{uuid}", ib.url)
    );
    let d = ib.get("/v1/inspection_rules?detail=true&sort_key=priority&sort_dir=desc");
    assert_eq!(d.body["inspection_rules"][0]["uuid"], uuid);
    assert!(d.body["inspection_rules"][0]["created_at"].is_string());
    let page = ib.get("/v1/inspection_rules?limit=1&sort_key=priority");
    assert_eq!(page.body["inspection_rules"][0]["uuid"], su.as_str());
    let next = page.body["next"].as_str().unwrap();
    assert!(
        next.contains("/v1/inspection_rules?") && next.contains(&format!("marker={su}")),
        "{next}"
    );
    let rest = ib.get(next.trim_start_matches(&ib.url));
    assert_eq!(rest.body["inspection_rules"][0]["uuid"], uuid);
    assert_eq!(
        ib.get("/v1/inspection_rules?phase=main").body["inspection_rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        ib.get("/v1/inspection_rules?phase=early").body["inspection_rules"],
        json!([])
    );
    let f = ib.get("/v1/inspection_rules?fields=uuid,priority");
    assert_eq!(f.body["inspection_rules"][0].as_object().unwrap().len(), 3);

    // Patch: fields change, the result is validated as a new rule would be.
    let p = ib.patch(
        &format!("/v1/inspection_rules/{uuid}"),
        json!([{"op": "replace", "path": "/priority", "value": 7},
               {"op": "add", "path": "/conditions/-", "value": {"op": "is-true", "args": {"value": "{plugin_data[auto_discovered]}"}}},
               {"op": "remove", "path": "/description"}]),
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body["priority"], 7);
    assert_eq!(p.body["description"], Value::Null);
    assert_eq!(p.body["conditions"].as_array().unwrap().len(), 2);
    assert!(p.body["updated_at"].is_string());
    let p = ib.patch(
        &format!("/v1/inspection_rules/{uuid}"),
        json!([{"op": "remove", "path": "/priority"}]),
    );
    assert_eq!(p.body["priority"], 0);
    for (patch, want) in [
        (json!([{"op": "replace", "path": "/priority", "value": 10000}]), "Priority must be between 0 and 9999 for user-defined rules."),
        (json!([{"op": "replace", "path": "/actions/0/op", "value": "nope"}]), "Schema error for patch: 'nope' is not one of ['fail', 'log', 'set-attribute', 'extend-attribute', 'del-attribute', 'set-capability', 'unset-capability', 'add-trait', 'remove-trait', 'set-plugin-data', 'extend-plugin-data', 'unset-plugin-data', 'set-port-attribute', 'extend-port-attribute', 'del-port-attribute', 'api-call']"),
        (json!([{"op": "remove", "path": "/actions"}]), "Schema error for patch: 'actions' is a required property"),
        (json!([{"op": "move", "path": "/priority", "from": "/x"}]), "Schema error for patch: Additional properties are not allowed ('from' was unexpected)"),
        (json!({"op": "replace"}), "Schema error for patch: {'op': 'replace'} is not of type 'array'"),
        (json!([{"op": "replace", "path": "/uuid", "value": "11111111-2222-3333-4444-777777777777"}]), "Cannot patch /uuid."),
        (json!([{"op": "replace", "path": "/bogus", "value": 1}]), "Cannot patch /bogus."),
    ] {
        let (st, msg) = fault(&ib, "PATCH", &format!("/v1/inspection_rules/{uuid}"), patch.clone());
        assert_eq!(st, 400, "{patch}");
        assert!(msg.starts_with(want), "{patch}: {msg}");
    }
    assert_eq!(
        ib.get(&format!("/v1/inspection_rules/{uuid}")).body["priority"],
        0
    );

    // Duplicates, lookups, deletes.
    let (st, msg) = fault(
        &ib,
        "POST",
        "/v1/inspection_rules",
        json!({"uuid": uuid, "actions": log_action()}),
    );
    assert_eq!(
        (st, msg.as_str()),
        (
            409,
            format!("A rule with UUID {uuid} already exists.").as_str()
        )
    );
    let missing = "0b2a5f6e-5d43-4c8b-9a8e-3b2c1d0e9f8a";
    let r = ib.get(&format!("/v1/inspection_rules/{missing}"));
    assert_eq!(
        (r.status, r.fault()),
        (404, format!("Rule {missing} could not be found."))
    );
    let r = ib.get("/v1/inspection_rules/notauuid");
    assert_eq!(
        (r.status, r.fault()),
        (400, "Schema error: 'notauuid' is not a 'uuid'".to_string())
    );
    assert_eq!(
        ib.delete(&format!("/v1/inspection_rules/{uuid}")).status,
        204
    );
    let r = ib.delete(&format!("/v1/inspection_rules/{uuid}"));
    assert_eq!(
        (r.status, r.fault()),
        (404, format!("Rule {uuid} could not be found."))
    );
    assert_eq!(
        ib.post("/v1/inspection_rules", json!({"actions": log_action()}))
            .status,
        201
    );
    assert_eq!(ib.delete("/v1/inspection_rules").status, 204);
    assert_eq!(
        ib.get("/v1/inspection_rules").body["inspection_rules"],
        json!([])
    );
    // The root document links the collection from 1.96.
    assert!(ib.get("/v1/").body["inspection_rules"].is_array());
    assert!(ib
        .req("GET", "/v1/", Some("1.95"), None)
        .body
        .get("inspection_rules")
        .is_none());
}

#[test]
fn inspection_rules_are_gated_at_1_96() {
    let ib = Ironbox::start();
    let any = "0b2a5f6e-5d43-4c8b-9a8e-3b2c1d0e9f8a";
    let msg = "The API version does not allow inspection rules";
    for (method, path, body, status) in [
        ("GET", "/v1/inspection_rules".to_string(), None, 404),
        ("GET", format!("/v1/inspection_rules/{any}"), None, 404),
        (
            "POST",
            "/v1/inspection_rules".to_string(),
            Some(json!({"actions": log_action()})),
            405,
        ),
        (
            "PATCH",
            format!("/v1/inspection_rules/{any}"),
            Some(json!([{"op": "replace", "path": "/priority", "value": 1}])),
            405,
        ),
        ("DELETE", format!("/v1/inspection_rules/{any}"), None, 405),
        ("DELETE", "/v1/inspection_rules".to_string(), None, 405),
    ] {
        let (st, b) = at(&ib, method, &path, "1.95", body);
        assert_eq!(st, status, "{method} {path}: {b}");
        assert!(b.to_string().contains(msg), "{method} {path}: {b}");
    }
    // Nothing was created by the refused POST.
    assert_eq!(
        ib.get("/v1/inspection_rules").body["inspection_rules"],
        json!([])
    );
}

#[test]
fn bad_inspection_rules_get_ironics_messages() {
    let ib = Ironbox::start();
    let a = log_action();
    let long = "x".repeat(256);
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "Schema error: 'actions' is a required property"),
        (json!([1]), "Schema error: [1] is not of type 'object'"),
        (json!({"actions": []}), "Schema error: [] should be non-empty"),
        (json!({"actions": a, "foo": 1}), "Schema error: Additional properties are not allowed ('foo' was unexpected)"),
        (json!({"actions": [{"op": "bogus", "args": {}}]}), "Schema error: 'bogus' is not one of ['fail', 'log', 'set-attribute', 'extend-attribute', 'del-attribute', 'set-capability', 'unset-capability', 'add-trait', 'remove-trait', 'set-plugin-data', 'extend-plugin-data', 'unset-plugin-data', 'set-port-attribute', 'extend-port-attribute', 'del-port-attribute', 'api-call']"),
        (json!({"actions": [{"op": "log"}]}), "Schema error: 'args' is a required property"),
        (json!({"actions": [{"op": "log", "args": "x"}]}), "Schema error: 'x' is not of type 'array', 'object'"),
        (json!({"actions": a, "conditions": [{"op": "bogus", "args": {}}]}), "Schema error: 'bogus' is not one of ['eq', 'lt', 'gt', 'is-empty', 'in-net', 'matches', 'contains', 'one-of', 'is-none', 'is-true', 'is-false', '!eq', '!lt', '!gt', '!is-empty', '!in-net', '!matches', '!contains', '!one-of', '!is-none', '!is-true', '!is-false']"),
        (json!({"actions": a, "conditions": [{"op": "!!eq", "args": {}}]}), "Schema error: '!!eq' is not one of ['eq',"),
        (json!({"actions": a, "conditions": [{"op": "eq", "args": {"values": [1, 1]}, "multiple": "some"}]}), "Schema error: 'some' is not one of ['any', 'all', 'first', 'last']"),
        (json!({"actions": a, "conditions": {}}), "Schema error: {} is not of type 'array'"),
        (json!({"actions": a, "priority": -1}), "Schema error: -1 is less than the minimum of 0"),
        (json!({"actions": a, "priority": 10000}), "Priority must be between 0 and 9999 for user-defined rules."),
        (json!({"actions": a, "priority": "5"}), "Schema error: '5' is not of type 'integer'"),
        (json!({"actions": a, "priority": 1.5}), "Schema error: 1.5 is not of type 'integer'"),
        (json!({"actions": a, "description": long}), "is too long"),
        (json!({"actions": a, "phase": "early"}), "Invalid phase: early. Valid phases are: main"),
        (json!({"actions": a, "phase": "x".repeat(17)}), "Schema error: 'xxxxxxxxxxxxxxxxx' is too long"),
        (json!({"actions": a, "sensitive": "yes"}), "Schema error: 'yes' is not of type 'boolean', 'null'"),
        (json!({"actions": a, "priority": 10000, "phase": "early"}), "Multiple validation errors occurred: Invalid phase: early. Valid phases are: main; Priority must be between 0 and 9999 for user-defined rules."),
        // Ironic 39 answers these with a 500 carrying the same reason.
        (json!({"actions": [{"op": "log", "args": {}}]}), "Invalid parameters for action operator log: missing required argument(s): msg"),
        (json!({"actions": [{"op": "log", "args": {"zzz": 1}}]}), "Invalid parameters for action operator log: missing required argument(s): msg; unexpected argument(s): zzz"),
        (json!({"actions": [{"op": "set-attribute", "args": ["a"]}]}), "Invalid parameters for action operator set-attribute: Not enough arguments provided. Missing: value"),
        (json!({"actions": a, "conditions": [{"op": "eq", "args": {}}]}), "Invalid parameters for condition operator eq: missing required argument(s): values"),
        (json!({"actions": a, "uuid": "not-a-uuid"}), "Schema error: 'not-a-uuid' is not a 'uuid'"),
        // Secrets sent in a bad rule are not echoed.
        (json!({"actions": [{"op": {"password": "s3cret"}, "args": {}}]}), "Schema error: {'password': '******'} is not one of"),
    ];
    for (body, want) in cases {
        let (st, msg) = fault(&ib, "POST", "/v1/inspection_rules", body.clone());
        assert_eq!(st, 400, "{body}: {msg}");
        assert!(
            msg.starts_with(want) || (want.starts_with("is too") && msg.ends_with(want)),
            "{body}:\n got {msg}\nwant {want}"
        );
    }
    let r = ib.req(
        "POST",
        "/v1/inspection_rules",
        Some("1.96"),
        Some("{not json"),
    );
    assert_eq!(r.status, 400);
    let r = ib.get("/v1/inspection_rules?sort_key=actions");
    assert_eq!(
        (r.status, r.fault()),
        (400, "Schema error: 'actions' should not be valid under {'type': 'string', 'enum': ['actions', 'conditions']}".to_string())
    );
    let r = ib.get("/v1/inspection_rules?sort_key=bogus");
    assert_eq!(
        (r.status, r.fault()),
        (
            400,
            "The sort_key value \"bogus\" is an invalid field for sorting".to_string()
        )
    );
    let r = ib.get("/v1/inspection_rules?fields=uuid,bogus");
    assert_eq!(
        (r.status, r.fault()),
        (400, "Field(s) \"bogus\" are not valid".to_string())
    );
    let r = ib.get("/v1/inspection_rules?detail=true&fields=uuid");
    assert_eq!(r.status, 400);
    // Nothing half-created.
    assert_eq!(
        ib.get("/v1/inspection_rules").body["inspection_rules"],
        json!([])
    );
}

#[test]
fn a_bad_built_in_rules_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, "- actions: [{op: log, args: {}}]\n").unwrap();
    let cfg = dir.path().join("ironic.toml");
    std::fs::write(
        &cfg,
        format!(
            "[inspection_rules]\nbuilt_in_rules = \"{}\"\n",
            file.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(crate::harness::bin())
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("[inspection_rules] built_in_rules")
            && text.contains("rules.yaml: rule 1 (index 0): Invalid parameters for action operator log: missing required argument(s): msg"),
        "{text}"
    );
}

/// The real `baremetal inspection rule` commands (python-ironicclient) against ironbox.
/// (The client sends `--priority` as a string, which Ironic 39's schema refuses too.)
#[test]
fn baremetal_cli_manages_inspection_rules() {
    let ib = Ironbox::start();
    let created = ib.cli_json(&[
        "inspection",
        "rule",
        "create",
        "--actions",
        r#"[{"op": "add-trait", "args": {"name": "CUSTOM_BIG"}}]"#,
        "--conditions",
        r#"[{"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 1024]}}]"#,
        "--description",
        "cli",
    ]);
    let uuid = created["uuid"].as_str().unwrap().to_string();
    assert_eq!(created["actions"][0]["op"], "add-trait");
    let listed = ib.cli_json(&["inspection", "rule", "list"]);
    assert_eq!(listed[0]["uuid"], uuid.as_str());
    ib.cli_ok(&[
        "inspection",
        "rule",
        "set",
        &uuid,
        "--description",
        "changed",
    ]);
    let shown = ib.cli_json(&["inspection", "rule", "show", &uuid]);
    assert_eq!(shown["description"], "changed");
    ib.cli_ok(&["inspection", "rule", "delete", &uuid]);
    assert_eq!(ib.cli_json(&["inspection", "rule", "list"]), json!([]));
}
