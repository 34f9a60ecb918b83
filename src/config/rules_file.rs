//! `[inspection_rules] built_in_rules`: a YAML (or JSON, a subset of YAML) list of rules,
//! read and checked when the configuration loads, as Ironic checks them (its schema and
//! plugin checks, the priority unbounded above). Rules without a UUID get Ironic's
//! synthetic ones, `00000000-0000-0000-0000-<index in hex>`.

use std::path::Path;

use serde_json::{Map, Value};

use crate::model::inspection_rule::{self as rule, InspectionRule};

/// The file's rules, or why it cannot be used (the caller adds the path).
pub(super) fn load(path: &Path) -> Result<Vec<InspectionRule>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    parse(&text)
}

pub(super) fn parse(text: &str) -> Result<Vec<InspectionRule>, String> {
    let data: Value = serde_yaml_ng::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let list = data
        .as_array()
        .ok_or("the file should contain a list of rules")?;
    let mut synthetic = 0u64;
    let mut rules = vec![];
    for (i, item) in list.iter().enumerate() {
        let at = |reason: String| format!("rule {} (index {i}): {reason}", i + 1);
        let d = item
            .as_object()
            .ok_or_else(|| at("a rule must be a mapping".into()))?;
        // Ironic builds each rule from the keys it knows and ignores the rest.
        let mut r = Map::new();
        let uuid = match d.get("uuid") {
            None | Some(Value::Null) => {
                let u = format!("00000000-0000-0000-0000-{synthetic:012x}");
                synthetic += 1;
                Value::from(u)
            }
            Some(u) => u.clone(),
        };
        r.insert("uuid".into(), uuid);
        let take = |k: &str, default: Value| d.get(k).cloned().unwrap_or(default);
        r.insert("priority".into(), take("priority", Value::from(0)));
        r.insert("description".into(), take("description", Value::Null));
        r.insert("sensitive".into(), take("sensitive", Value::from(false)));
        r.insert("phase".into(), take("phase", Value::from(rule::PHASE_MAIN)));
        r.insert("actions".into(), take("actions", Value::Array(vec![])));
        r.insert(
            "conditions".into(),
            take("conditions", Value::Array(vec![])),
        );
        let doc = Value::Object(r);
        if let Some(e) = rule::schema_error(&doc) {
            return Err(at(format!("Validation failed for inspection rule: {e}")));
        }
        let Value::Object(r) = doc else {
            return Err(at("a rule must be a mapping".into()));
        };
        rule::validate_rule(&r, true).map_err(at)?;
        let mut rule = InspectionRule::from_document(&r);
        rule.created_at = crate::model::now();
        rules.push(rule);
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_rules_load_with_synthetic_uuids() {
        let rules = parse(
            "- priority: 20000\n  actions:\n    - op: add-trait\n      args: {name: CUSTOM_X}\n\
             - uuid: 1be1e0b4-5e1b-4bd5-b8d0-2c2a8d1f3a10\n  actions: [{op: log, args: [hi]}]\n\
             - actions: [{op: fail, args: {msg: no}}]\n  extra_key_ignored: 1\n",
        )
        .unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].uuid, "00000000-0000-0000-0000-000000000000");
        assert_eq!(rules[0].priority, 20000);
        assert_eq!(rules[1].uuid, "1be1e0b4-5e1b-4bd5-b8d0-2c2a8d1f3a10");
        assert_eq!(rules[2].uuid, "00000000-0000-0000-0000-000000000001");
        assert_eq!(rules[2].phase, "main");
    }

    #[test]
    fn json_is_accepted_too() {
        let rules = parse(r#"[{"actions": [{"op": "log", "args": {"msg": "x"}}]}]"#).unwrap();
        assert_eq!(rules.len(), 1);
    }

    #[test]
    fn bad_files_say_which_rule_and_why() {
        for (text, want) in [
            ("{a: 1}", "should contain a list of rules"),
            ("[1]", "rule 1 (index 0): a rule must be a mapping"),
            ("- actions: [{op: nope, args: {}}]", "'nope' is not one of"),
            ("- actions: []", "[] should be non-empty"),
            ("- {}", "[] should be non-empty"),
            (
                "- actions: [{op: log, args: {}}]",
                "Invalid parameters for action operator log: missing required argument(s): msg",
            ),
            (
                "- priority: -1\n  actions: [{op: log, args: [x]}]",
                "-1 is less than the minimum of 0",
            ),
            (
                "- phase: early\n  actions: [{op: log, args: [x]}]",
                "Invalid phase: early",
            ),
            ("- actions: [\n", "not valid YAML"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
