//! Table tests of every condition and action operator against Ironic's documented
//! semantics (doc/source/admin/inspection/rules.rst and its engine), and of the engine's
//! order, stop-at-first-failure and masking.

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::model::node::Node;
use crate::model::port::Port;

fn inventory() -> Value {
    json!({
        "memory": {"physical_mb": 8192},
        "cpu": {"architecture": "x86_64", "count": 4},
        "bmc_address": "192.168.1.10",
        "bmc_password": "hunter2",
        "interfaces": [{"name": "eth0", "mac_address": "52:54:00:aa:bb:cc", "ipv4_address": "10.0.0.5"}],
        "system_vendor": {"manufacturer": "Dell Inc.", "product_name": "PowerEdge R640"},
        "empty": "",
        "none": null,
        "flag": true,
    })
}

fn node() -> Node {
    let mut n = Node {
        uuid: "1be1e0b4-5e1b-4bd5-b8d0-2c2a8d1f3a10".into(),
        name: Some("n1".into()),
        driver: "fake-hardware".into(),
        provision_state: "inspect wait".into(),
        ..Default::default()
    };
    n.driver_info
        .insert("ipmi_address".into(), json!("10.1.1.1"));
    n
}

/// One condition on the test data (masked as by default).
fn cond(c: Value) -> std::result::Result<bool, Failure> {
    let n = node();
    let inv = masked(&inventory());
    let pd = masked(&json!({"auto_discovered": true, "auth_token": "tok"}));
    let cx = Context {
        node: &n,
        inventory: &inv,
        plugin_data: &pd,
        item: None,
    };
    check_condition(&c, &cx)
}

#[test]
fn every_condition_operator() {
    let cases: Vec<(Value, bool)> = vec![
        // eq: Python ==, every neighbouring pair; interpolation yields strings.
        (
            json!({"op": "eq", "args": {"values": [1, 1.0, true]}}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[cpu][architecture]}", "x86_64"]}}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[memory][physical_mb]}", 8192]}}),
            false,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[memory][physical_mb]}", 8192], "force_strings": true}}),
            true,
        ),
        (json!({"op": "eq", "args": {"values": [1]}}), true),
        (
            json!({"op": "eq", "args": {"values": [{"a": [1]}, {"a": [1.0]}]}}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{node.driver}", "fake-hardware"]}}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{node.driver_info[ipmi_address]}", "10.1.1.1"]}}),
            true,
        ),
        (json!({"op": "!eq", "args": {"values": ["a", "b"]}}), true),
        (json!({"op": "! eq", "args": {"values": ["a", "a"]}}), false),
        // lt / gt: strict order; a numeric string against a number compares as numbers.
        (json!({"op": "lt", "args": {"values": [1, 2, 3]}}), true),
        (json!({"op": "lt", "args": {"values": [1, 3, 2]}}), false),
        (json!({"op": "lt", "args": {"values": ["a", "b"]}}), true),
        (
            json!({"op": "lt", "args": {"values": [[1, 2], [1, 3]]}}),
            true,
        ),
        (
            json!({"op": "lt", "args": {"values": ["{inventory[memory][physical_mb]}", 10000]}}),
            true,
        ),
        (
            json!({"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 4096]}}),
            true,
        ),
        (json!({"op": "gt", "args": {"values": [3, 2, 2]}}), false),
        (json!({"op": "!gt", "args": {"values": [1, 2]}}), true),
        // is-empty: str(value) in ("", "None", "[]", "{}"); a missing key is None.
        (
            json!({"op": "is-empty", "args": {"value": "{inventory[empty]}"}}),
            true,
        ),
        (
            json!({"op": "is-empty", "args": {"value": "{inventory[missing]}"}}),
            true,
        ),
        (
            json!({"op": "is-empty", "args": {"value": "{inventory[none]}"}}),
            true,
        ),
        (json!({"op": "is-empty", "args": {"value": []}}), true),
        (json!({"op": "is-empty", "args": {"value": {}}}), true),
        (
            json!({"op": "is-empty", "args": {"value": "{inventory[cpu]}"}}),
            false,
        ),
        // A field Python cannot format stays literal (not empty).
        (
            json!({"op": "is-empty", "args": {"value": "{inventory.bmc_address}"}}),
            false,
        ),
        (
            json!({"op": "!is-empty", "args": {"value": "{inventory[bmc_address]}"}}),
            true,
        ),
        // in-net
        (
            json!({"op": "in-net", "args": {"address": "{inventory[bmc_address]}", "subnet": "192.168.1.0/24"}}),
            true,
        ),
        (
            json!({"op": "in-net", "args": {"address": "{inventory[bmc_address]}", "subnet": "10.0.0.0/8"}}),
            false,
        ),
        (
            json!({"op": "in-net", "args": {"address": "{inventory[interfaces][0][ipv4_address]}", "subnet": "10.0.0.0/8"}}),
            true,
        ),
        (
            json!({"op": "in-net", "args": {"address": "fd00::1", "subnet": "fd00::/64"}}),
            true,
        ),
        (
            json!({"op": "in-net", "args": {"address": "10.0.0.1", "subnet": "fd00::/64"}}),
            false,
        ),
        (
            json!({"op": "in-net", "args": {"address": "10.0.0.1", "subnet": "10.0.0.1"}}),
            true,
        ),
        // matches: from the start to the end; contains: anywhere.
        (
            json!({"op": "matches", "args": {"value": "{inventory[system_vendor][product_name]}", "regex": "PowerEdge.*"}}),
            true,
        ),
        (
            json!({"op": "matches", "args": {"value": "{inventory[system_vendor][product_name]}", "regex": "Edge"}}),
            false,
        ),
        (
            json!({"op": "matches", "args": {"value": "{inventory[system_vendor][product_name]}", "regex": "PowerEdge R640$"}}),
            true,
        ),
        (
            json!({"op": "matches", "args": {"value": "{inventory[system_vendor][product_name]}", "regex": "(?i)poweredge r640"}}),
            true,
        ),
        (
            json!({"op": "matches", "args": {"value": "ab", "regex": "a|b"}}),
            true,
        ),
        (
            json!({"op": "contains", "args": {"value": "{inventory[system_vendor][manufacturer]}", "regex": "(?i)dell"}}),
            true,
        ),
        (
            json!({"op": "contains", "args": {"value": "{inventory[system_vendor][manufacturer]}", "regex": "HPE"}}),
            false,
        ),
        (
            json!({"op": "contains", "args": {"value": 12345, "regex": "234"}}),
            true,
        ),
        // one-of
        (
            json!({"op": "one-of", "args": {"value": "{inventory[cpu][architecture]}", "values": ["aarch64", "x86_64"]}}),
            true,
        ),
        (
            json!({"op": "one-of", "args": {"value": "{inventory[cpu][architecture]}", "values": ["ppc64le"]}}),
            false,
        ),
        (
            json!({"op": "one-of", "args": {"value": 4, "values": [4.0]}}),
            true,
        ),
        (json!({"op": "one-of", "args": {"value": "x"}}), false),
        // is-none: only a real None (interpolation gives the string "None").
        (json!({"op": "is-none", "args": {"value": null}}), true),
        (
            json!({"op": "is-none", "args": {"value": "{inventory[none]}"}}),
            false,
        ),
        (json!({"op": "!is-none", "args": {"value": "x"}}), true),
        // is-true / is-false
        (json!({"op": "is-true", "args": {"value": true}}), true),
        (json!({"op": "is-true", "args": {"value": "YES"}}), true),
        (json!({"op": "is-true", "args": {"value": 2}}), true),
        (
            json!({"op": "is-true", "args": {"value": "{inventory[flag]}"}}),
            true,
        ),
        (
            json!({"op": "is-true", "args": {"value": "{plugin_data[auto_discovered]}"}}),
            true,
        ),
        (json!({"op": "is-true", "args": {"value": "no"}}), false),
        (json!({"op": "is-true", "args": {"value": null}}), false),
        (json!({"op": "is-true", "args": {"value": [1]}}), false),
        (json!({"op": "is-false", "args": {"value": false}}), true),
        (json!({"op": "is-false", "args": {"value": "False"}}), true),
        (json!({"op": "is-false", "args": {"value": 0}}), true),
        (json!({"op": "is-false", "args": {"value": null}}), true),
        (json!({"op": "is-false", "args": {"value": "x"}}), false),
        (json!({"op": "is-false", "args": {"value": {}}}), false),
        // Masking (default `always`): secrets read as ***.
        (
            json!({"op": "eq", "args": {"values": ["{inventory[bmc_password]}", "***"]}}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{plugin_data[auth_token]}", "***"]}}),
            true,
        ),
        // Loops: `multiple` any (default) / all / first / last; `{item}` and `{item[k]}`.
        (
            json!({"op": "eq", "args": {"values": ["{inventory[system_vendor][product_name]}", "{item}"]}, "loop": ["HPE", "PowerEdge R640"]}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[system_vendor][product_name]}", "{item}"]}, "loop": ["HPE", "PowerEdge R640"], "multiple": "all"}),
            false,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[system_vendor][product_name]}", "{item}"]}, "loop": ["HPE", "PowerEdge R640"], "multiple": "last"}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[system_vendor][product_name]}", "{item}"]}, "loop": ["PowerEdge R640", "HPE"], "multiple": "last"}),
            false,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[system_vendor][product_name]}", "{item}"]}, "loop": ["HPE", "PowerEdge R640"], "multiple": "first"}),
            true,
        ),
        (
            json!({"op": "eq", "args": {"values": ["{inventory[system_vendor][product_name]}", "{item}"]}, "loop": ["HPE", "Cisco"], "multiple": "first"}),
            false,
        ),
        // In a loop numbers are compared as strings (force_strings).
        (
            json!({"op": "eq", "args": {"values": ["{inventory[cpu][count]}", "{item}"]}, "loop": [4]}),
            true,
        ),
        (
            json!({"op": "one-of", "args": {"value": "{item[arch]}", "values": ["x86_64"]}, "loop": [{"arch": "x86_64"}]}),
            true,
        ),
        (
            json!({"op": "one-of", "args": {"value": "{item[arch]}", "values": ["x86_64"]}, "loop": {"arch": "aarch64"}}),
            false,
        ),
        (
            json!({"op": "!eq", "args": {"values": ["{item}", "a"]}, "loop": ["a", "b"], "multiple": "all"}),
            false,
        ),
        // An empty loop is no loop.
        (
            json!({"op": "is-true", "args": {"value": true}, "loop": []}),
            true,
        ),
    ];
    for (c, want) in cases {
        match cond(c.clone()) {
            Ok(got) => assert_eq!(got, want, "{c}"),
            Err(e) => panic!("{c}: {e:?}"),
        }
    }
}

#[test]
fn condition_errors_carry_ironic_messages() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"op": "eq", "args": {"values": "x"}}), "Inspection rule condition check failed. Reason: Failed to check condition: 'eq' on values: x: Expected list for 'values', got: str"),
        (json!({"op": "lt", "args": {"values": [1, "x"]}}), "'<' not supported between instances of 'int' and 'str'"),
        (json!({"op": "in-net", "args": {"address": "1.2.3.4", "subnet": "nope"}}), "Inspection rule execution failed. Reason: invalid value"),
        (json!({"op": "in-net", "args": {"address": "nope", "subnet": "10.0.0.0/8"}}), "failed to detect a valid IP address"),
        (json!({"op": "contains", "args": {"value": "x", "regex": "("}}), "Inspection rule execution failed. Reason: invalid regular expression"),
        (json!({"op": "!!eq", "args": {"values": [1]}}), "Multiple exclamation marks are not allowed"),
        (json!({"op": "eq", "args": []}), "Not enough arguments provided. Missing: values"),
        // The deprecated list form spreads positionally: `values` is the first item, as the
        // documentation warns.
        (json!({"op": "eq", "args": ["{node.driver}", "fake-hardware"]}), "Expected list for 'values', got: str"),
    ];
    for (c, want) in cases {
        let e = cond(c.clone()).expect_err(&c.to_string());
        let text = match e {
            Failure::Ironic(m) | Failure::Python(m) => m,
        };
        assert!(text.contains(want), "{c}: {text}");
    }
}

#[test]
fn interpolation_is_python_format() {
    let n = node();
    let inv = inventory();
    let pd = json!({"list": [1, "a"], "d": {"k": null}});
    let item = json!({"path": "/extra/x", "value": "{inventory[bmc_address]}"});
    let cx = Context {
        node: &n,
        inventory: &inv,
        plugin_data: &pd,
        item: Some(&item),
    };
    let f = |s: &str| interpolate::format(s, &cx);
    assert_eq!(f("{{literal}} {node.name}").unwrap(), "{literal} n1");
    assert_eq!(f("{inventory[cpu][count]}").unwrap(), "4");
    assert_eq!(f("{plugin_data[list]}").unwrap(), "[1, 'a']");
    assert_eq!(f("{plugin_data[d]}").unwrap(), "{'k': None}");
    assert_eq!(f("{inventory[flag]}").unwrap(), "True");
    assert_eq!(f("{item[path]}").unwrap(), "/extra/x");
    assert_eq!(
        f("{node.uuid}-{inventory[interfaces][0][name]}").unwrap(),
        format!("{}-eth0", n.uuid)
    );
    assert!(f("{inventory[nope]}").is_err());
    assert!(f("{node[driver]}").is_err());
    assert!(f("{node.no_such_field}").is_err());
    assert!(f("{inventory[cpu]:>10}").is_err());
    assert!(f("}").is_err());
    assert!(f("{}").is_err());
    // In a loop a string is formatted twice: an item's own fields are filled too.
    let v = interpolate::interpolate(
        &json!({"v": "{item[value]}", "l": ["{item[value]}"]}),
        &cx,
        "set-attribute",
    );
    assert_eq!(
        v,
        json!({"v": "192.168.1.10", "l": ["{inventory[bmc_address]}"]})
    );
    // Unformattable strings stay as they were.
    let v = interpolate::interpolate(&json!("{inventory[nope]}"), &cx, "log");
    assert_eq!(v, json!("{inventory[nope]}"));
}

async fn conductor(dir: &std::path::Path, extra: &str) -> Conductor {
    let cfg = crate::config::Config::parse(
        &format!(
            "[DEFAULT]\nstate_path = \"{}\"\nhost = \"t\"\n{extra}",
            dir.display()
        ),
        "t",
    )
    .unwrap();
    let reg = crate::drivers::Registry::from_config(&cfg).unwrap();
    let store = crate::db::Store::open(&cfg.database.connection, 5000, 4).unwrap();
    Conductor::new(store, Arc::new(reg), Arc::new(cfg))
}

fn port(uuid: &str, mac: &str) -> Port {
    Port {
        uuid: uuid.into(),
        address: mac.into(),
        node_uuid: node().uuid,
        pxe_enabled: true,
        ..Default::default()
    }
}

struct Outcome {
    result: std::result::Result<(), String>,
    node: Node,
    ports: Vec<Port>,
    plugin_data: Value,
}

/// Store `rules` (each checked as the API checks it), run the engine on fresh data.
async fn run_with(c: &Conductor, rules: Vec<Value>) -> Outcome {
    c.inspection_rule_delete_all().await.unwrap();
    for r in rules {
        assert_eq!(model::schema_error(&r), None, "{r}");
        let doc = r.as_object().unwrap();
        model::validate_rule(doc, false).unwrap_or_else(|e| panic!("{r}: {e}"));
        let mut rule = InspectionRule::from_document(doc);
        if rule.uuid.is_empty() {
            rule.uuid = crate::model::new_uuid();
        }
        c.inspection_rule_create(rule).await.unwrap();
    }
    let mut node = node();
    let mut ports = vec![
        port("11111111-1111-1111-1111-111111111111", "52:54:00:aa:bb:cc"),
        port("22222222-2222-2222-2222-222222222222", "52:54:00:aa:bb:dd"),
    ];
    let inventory = inventory();
    let mut plugin_data = json!({"auto_discovered": true, "keep": {"a": 1, "b": 2}});
    let result = c
        .apply_inspection_rules(&mut RuleScope {
            node: &mut node,
            ports: &mut ports,
            inventory: &inventory,
            plugin_data: &mut plugin_data,
        })
        .await;
    Outcome {
        result,
        node,
        ports,
        plugin_data,
    }
}

fn rule(actions: Value) -> Value {
    json!({"actions": actions})
}

#[tokio::test]
async fn every_action_operator() {
    let dir = tempfile::tempdir().unwrap();
    let c = conductor(dir.path(), "").await;
    type Check = fn(&Outcome);
    let cases: Vec<(Value, Check)> = vec![
        (
            json!([{"op": "set-attribute", "args": {"path": "/driver_info/ipmi_address", "value": "{inventory[bmc_address]}"}}]),
            |o| assert_eq!(o.node.driver_info["ipmi_address"], "192.168.1.10"),
        ),
        (
            json!([{"op": "set-attribute", "args": {"path": "properties.cpu_arch", "value": "{inventory[cpu][architecture]}"}}]),
            |o| assert_eq!(o.node.properties["cpu_arch"], "x86_64"),
        ),
        (
            json!([{"op": "set-attribute", "args": {"path": "/extra/a/b", "value": 5}}]),
            |o| assert_eq!(o.node.extra["a"], json!({"b": 5})),
        ),
        (
            json!([{"op": "set-attribute", "args": {"path": "/name", "value": "rack1-{inventory[interfaces][0][name]}"}}]),
            |o| assert_eq!(o.node.name.as_deref(), Some("rack1-eth0")),
        ),
        (
            json!([{"op": "set-attribute", "args": {"path": "/driver", "value": "fake-hardware"}}]),
            |o| assert!(o.result.is_ok()),
        ),
        (
            json!([{"op": "extend-attribute", "args": {"path": "/extra/tags", "value": "x"}}, {"op": "extend-attribute", "args": {"path": "/extra/tags", "value": "x"}}]),
            |o| assert_eq!(o.node.extra["tags"], json!(["x", "x"])),
        ),
        (
            json!([{"op": "extend-attribute", "args": {"path": "/extra/tags", "value": "x", "unique": true}}, {"op": "extend-attribute", "args": {"path": "/extra/tags", "value": "x", "unique": true}}]),
            |o| assert_eq!(o.node.extra["tags"], json!(["x"])),
        ),
        (
            json!([{"op": "del-attribute", "args": {"path": "/driver_info/ipmi_address"}}]),
            |o| assert!(!o.node.driver_info.contains_key("ipmi_address")),
        ),
        (
            json!([{"op": "del-attribute", "args": {"path": "/driver_info/not/there"}}]),
            |o| assert!(o.result.is_ok()),
        ),
        (
            json!([{"op": "set-attribute", "args": {"path": "/extra/x", "value": 1}}, {"op": "del-attribute", "args": {"path": "extra"}}]),
            |o| assert!(o.node.extra.is_empty()),
        ),
        (
            json!([{"op": "set-capability", "args": {"name": "boot_mode", "value": "uefi"}}, {"op": "set-capability", "args": {"name": "x", "value": "1"}}]),
            |o| assert_eq!(o.node.properties["capabilities"], "boot_mode:uefi,x:1"),
        ),
        (
            json!([{"op": "set-capability", "args": {"name": "boot_mode", "value": "uefi"}}, {"op": "set-capability", "args": {"name": "x", "value": "1"}}, {"op": "unset-capability", "args": {"name": "boot_mode"}}]),
            |o| assert_eq!(o.node.properties["capabilities"], "x:1"),
        ),
        (
            json!([{"op": "unset-capability", "args": {"name": "boot_mode"}}]),
            |o| assert_eq!(o.node.properties["capabilities"], ""),
        ),
        (
            json!([{"op": "add-trait", "args": {"name": "CUSTOM_BIG"}}, {"op": "add-trait", "args": {"name": "CUSTOM_BIG"}}, {"op": "add-trait", "args": {"name": "CUSTOM_GONE"}}, {"op": "remove-trait", "args": {"name": "CUSTOM_GONE"}}, {"op": "remove-trait", "args": {"name": "CUSTOM_NEVER"}}]),
            |o| assert_eq!(o.node.traits, vec!["CUSTOM_BIG".to_string()]),
        ),
        (
            json!([{"op": "set-plugin-data", "args": {"path": "a.b", "value": "{inventory[cpu][count]}"}}]),
            |o| assert_eq!(o.plugin_data["a"], json!({"b": "4"})),
        ),
        (
            json!([{"op": "extend-plugin-data", "args": {"path": "l", "value": 1}}, {"op": "extend-plugin-data", "args": {"path": "l", "value": 1, "unique": true}}, {"op": "extend-plugin-data", "args": {"path": "l", "value": 2}}]),
            |o| assert_eq!(o.plugin_data["l"], json!([1, 2])),
        ),
        (
            json!([{"op": "unset-plugin-data", "args": {"path": "keep.a"}}]),
            |o| assert_eq!(o.plugin_data["keep"], json!({"b": 2})),
        ),
        (
            json!([{"op": "unset-plugin-data", "args": {"path": "keep.a"}}, {"op": "unset-plugin-data", "args": {"path": "keep.b"}}, {"op": "unset-plugin-data", "args": {"path": "no.such"}}]),
            |o| assert!(o.plugin_data.get("keep").is_none()),
        ),
        (
            json!([{"op": "set-port-attribute", "args": {"port_id": "11111111-1111-1111-1111-111111111111", "path": "/extra/switch", "value": "sw1"}}, {"op": "set-port-attribute", "args": {"port_id": "52:54:00:AA:BB:DD", "path": "pxe_enabled", "value": false}}]),
            |o| {
                assert_eq!(o.ports[0].extra["switch"], "sw1");
                assert!(o.ports[0].pxe_enabled);
                assert!(!o.ports[1].pxe_enabled);
            },
        ),
        (
            json!([{"op": "extend-port-attribute", "args": {"port_id": "11111111-1111-1111-1111-111111111111", "path": "/extra/vlans", "value": 10, "unique": true}}, {"op": "extend-port-attribute", "args": {"port_id": "11111111-1111-1111-1111-111111111111", "path": "/extra/vlans", "value": 10, "unique": true}}]),
            |o| assert_eq!(o.ports[0].extra["vlans"], json!([10])),
        ),
        (
            json!([{"op": "set-port-attribute", "args": {"port_id": "11111111-1111-1111-1111-111111111111", "path": "/local_link_connection/switch_id", "value": "aa:bb:cc:dd:ee:ff"}}, {"op": "del-port-attribute", "args": {"port_id": "11111111-1111-1111-1111-111111111111", "path": "/local_link_connection/switch_id"}}]),
            |o| assert!(o.ports[0].local_link_connection.is_empty()),
        ),
        (
            json!([{"op": "log", "args": {"msg": "node {node.uuid} has {inventory[memory][physical_mb]} MiB", "level": "warning"}}]),
            |o| assert!(o.result.is_ok()),
        ),
        // A loop: each item runs the action; item values are formatted too.
        (
            json!([{"op": "set-attribute", "args": {"path": "{item[path]}", "value": "{item[value]}"}, "loop": [
                {"path": "/driver_info/ipmi_username", "value": "admin"},
                {"path": "/driver_info/ipmi_address", "value": "{inventory[bmc_address]}"}]}]),
            |o| {
                assert_eq!(o.node.driver_info["ipmi_username"], "admin");
                assert_eq!(o.node.driver_info["ipmi_address"], "192.168.1.10");
            },
        ),
        (
            json!([{"op": "add-trait", "args": {"name": "{item}"}, "loop": ["CUSTOM_A", "CUSTOM_B"]}]),
            |o| {
                assert_eq!(
                    o.node.traits,
                    vec!["CUSTOM_A".to_string(), "CUSTOM_B".to_string()]
                )
            },
        ),
    ];
    for (actions, check) in cases {
        let o = run_with(&c, vec![rule(actions.clone())]).await;
        assert!(o.result.is_ok(), "{actions}: {:?}", o.result);
        check(&o);
    }
}

#[tokio::test]
async fn failing_actions_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let c = conductor(dir.path(), "").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!([{"op": "fail", "args": {"msg": "no good"}}]), "Failed to inspect hardware. Reason: no good"),
        (json!([{"op": "log", "args": {"msg": "x", "level": "loud"}}]), "Invalid log level: loud"),
        (json!([{"op": "set-attribute", "args": {"path": "/provision_state", "value": "active"}}]),
            "Inspection rule action execution failed. Reason: Failed to set attribute /provision_state with value active: the node field provision_state cannot be changed"),
        (json!([{"op": "set-attribute", "args": {"path": "/nope", "value": 1}}]), "'Node' object has no attribute 'nope'"),
        (json!([{"op": "set-attribute", "args": {"path": "/driver", "value": "no-such-driver"}}]), "Failed to set attribute /driver with value no-such-driver: "),
        (json!([{"op": "set-attribute", "args": {"path": "/deploy_interface", "value": "bogus"}}]), "Failed to set attribute /deploy_interface"),
        (json!([{"op": "set-attribute", "args": {"path": "/driver_info", "value": "x"}}]), "driver_info must be a dictionary"),
        (json!([{"op": "set-attribute", "args": {"path": "/name", "value": "not a name!"}}]), "invalid name"),
        (json!([{"op": "set-attribute", "args": {"path": "/driver_info/ipmi_password", "value": "s3cret"}}, {"op": "set-attribute", "args": {"path": "/driver_info/ipmi_password/x", "value": "s3cret"}}]),
            "with value ******"),
        (json!([{"op": "extend-attribute", "args": {"path": "/driver_info/ipmi_address", "value": 1}}]), "Cannot extend non-list attribute"),
        (json!([{"op": "add-trait", "args": {"name": "lowercase"}}]), "Failed to add new trait lowercase"),
        (json!([{"op": "set-plugin-data", "args": {"path": "auto_discovered.x", "value": 1}}]), "Failed to set plugin data at auto_discovered.x"),
        (json!([{"op": "set-port-attribute", "args": {"port_id": "33333333-3333-3333-3333-333333333333", "path": "extra", "value": {}}}]), "Port 33333333-3333-3333-3333-333333333333 could not be found."),
        (json!([{"op": "set-port-attribute", "args": {"port_id": "11111111-1111-1111-1111-111111111111", "path": "address", "value": "x"}}]), "the port field address cannot be changed"),
        (json!([{"op": "api-call", "args": {"url": "http://192.0.2.1/hook"}}]), "is not in [inspection_rules] api_call_allowed_hosts"),
        (json!([{"op": "api-call", "args": {"url": "http://localhost/x", "timeout": 0}}]), "Invalid parameter: timeout must be greater than zero"),
    ];
    for (actions, want) in cases {
        let o = run_with(&c, vec![rule(actions.clone())]).await;
        let e = o.result.expect_err(&actions.to_string());
        assert!(e.contains(want), "{actions}: {e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}

#[tokio::test]
async fn rules_run_by_priority_and_stop_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let c = conductor(dir.path(), "").await;
    // Lower priority runs later and wins; a false condition skips a rule.
    let o = run_with(
        &c,
        vec![
            json!({"priority": 1, "actions": [{"op": "set-attribute", "args": {"path": "/extra/who", "value": "low"}}]}),
            json!({"priority": 50, "actions": [{"op": "set-attribute", "args": {"path": "/extra/who", "value": "high"}}, {"op": "set-attribute", "args": {"path": "/extra/high", "value": true}}]}),
            json!({"priority": 20, "conditions": [{"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 100000]}}],
                   "actions": [{"op": "set-attribute", "args": {"path": "/extra/big", "value": true}}]}),
            json!({"priority": 10, "conditions": [{"op": "gt", "args": {"values": ["{inventory[memory][physical_mb]}", 4096]}}, {"op": "is-true", "args": {"value": "{plugin_data[auto_discovered]}"}}],
                   "actions": [{"op": "add-trait", "args": {"name": "CUSTOM_BIG_MEMORY"}}]}),
        ],
    )
    .await;
    assert_eq!(o.result, Ok(()));
    assert_eq!(o.node.extra["who"], "low");
    assert_eq!(o.node.extra["high"], true);
    assert!(!o.node.extra.contains_key("big"));
    assert_eq!(o.node.traits, vec!["CUSTOM_BIG_MEMORY".to_string()]);

    // The first failing rule stops every later one.
    let o = run_with(
        &c,
        vec![
            json!({"priority": 30, "actions": [{"op": "set-attribute", "args": {"path": "/extra/a", "value": 1}}]}),
            json!({"priority": 20, "actions": [{"op": "fail", "args": {"msg": "stop here"}}]}),
            json!({"priority": 10, "actions": [{"op": "set-attribute", "args": {"path": "/extra/c", "value": 1}}]}),
        ],
    )
    .await;
    assert_eq!(
        o.result,
        Err("Failed to inspect hardware. Reason: stop here".into())
    );
    assert!(!o.node.extra.contains_key("c"));

    // A Python error in a condition names the rule and node, as Ironic wraps it.
    let o = run_with(
        &c,
        vec![json!({"uuid": "aaaaaaaa-1111-2222-3333-444444444444", "conditions": [{"op": "lt", "args": {"values": [1, "x"]}}], "actions": [{"op": "log", "args": {"msg": "x"}}]})],
    )
    .await;
    assert_eq!(
        o.result,
        Err(format!("Failed to apply rule aaaaaaaa-1111-2222-3333-444444444444 to node {}: '<' not supported between instances of 'int' and 'str'", node().uuid))
    );
}

#[tokio::test]
async fn masking_follows_mask_secrets_and_sensitive() {
    let dir = tempfile::tempdir().unwrap();
    let copy = |sensitive: bool| json!({"sensitive": sensitive, "actions": [{"op": "set-attribute", "args": {"path": "/driver_info/ipmi_password", "value": "{inventory[bmc_password]}"}}]});
    for (mode, sensitive, want) in [
        ("always", true, "***"),
        ("never", false, "hunter2"),
        ("sensitive", false, "***"),
        ("sensitive", true, "hunter2"),
    ] {
        let sub = dir.path().join(format!("{mode}-{sensitive}"));
        std::fs::create_dir_all(&sub).unwrap();
        let c = conductor(
            &sub,
            &format!("[inspection_rules]\nmask_secrets = \"{mode}\"\n"),
        )
        .await;
        let o = run_with(&c, vec![copy(sensitive)]).await;
        assert_eq!(
            o.node.driver_info["ipmi_password"], want,
            "{mode} {sensitive}"
        );
    }
}

#[tokio::test]
async fn built_in_rules_run_with_the_stored_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    std::fs::write(
        &file,
        "- priority: 10000\n  actions:\n    - op: set-attribute\n      args: {path: /extra/order, value: builtin-first}\n\
         - priority: 0\n  actions:\n    - op: extend-attribute\n      args: {path: /extra/seen, value: builtin-last}\n",
    )
    .unwrap();
    let c = conductor(
        dir.path(),
        &format!(
            "[inspection_rules]\nbuilt_in_rules = \"{}\"\n",
            file.display()
        ),
    )
    .await;
    let o = run_with(
        &c,
        vec![json!({"priority": 0, "actions": [{"op": "extend-attribute", "args": {"path": "/extra/seen", "value": "db"}}, {"op": "set-attribute", "args": {"path": "/extra/order", "value": "db"}}]})],
    )
    .await;
    assert_eq!(o.result, Ok(()));
    // Equal priority: the database's rule, then the file's.
    assert_eq!(o.node.extra["seen"], json!(["db", "builtin-last"]));
    assert_eq!(o.node.extra["order"], "db");
}

#[tokio::test]
async fn api_call_reaches_only_allowed_hosts() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let status =
                if req.starts_with("GET /ok") && req.to_lowercase().contains("x-token: abc") {
                    "200 OK"
                } else if req.starts_with("GET /flaky") {
                    "503 Service Unavailable"
                } else {
                    "404 Not Found"
                };
            let _ = s
                .write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let c = conductor(
        dir.path(),
        "[inspection_rules]\napi_call_allowed_hosts = [\"127.0.0.1\"]\n",
    )
    .await;
    let call = |path: &str, extra: Value| {
        let mut args = json!({"url": format!("http://{addr}{path}?node={{node.uuid}}"), "headers": {"X-Token": "abc"}});
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        rule(json!([{"op": "api-call", "args": args}]))
    };
    let o = run_with(&c, vec![call("/ok", json!({}))]).await;
    assert_eq!(o.result, Ok(()));
    let o = run_with(&c, vec![call("/missing", json!({}))]).await;
    assert!(o.result.unwrap_err().contains("404 Not Found"));
    let before = hits.load(std::sync::atomic::Ordering::SeqCst);
    let o = run_with(
        &c,
        vec![call("/flaky", json!({"retries": 2, "backoff_factor": 0}))],
    )
    .await;
    assert!(o.result.unwrap_err().contains("503"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst) - before, 3);
    let o = run_with(
        &c,
        vec![rule(
            json!([{"op": "api-call", "args": {"url": "http://localhost:1/x"}}]),
        )],
    )
    .await;
    assert!(o.result.unwrap_err().contains("api_call_allowed_hosts"));
}
