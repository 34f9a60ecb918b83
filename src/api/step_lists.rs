//! The named step lists deploy templates and runbooks share: Ironic's schema for their
//! steps (one table of differences: interfaces, the ordering key, whether `args` is
//! required), its duplicate check, and its rules for their names.

use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::views::{py_repr, Reader};
use crate::model::secrets::opaque;
use crate::model::validate;

/// How one kind of step list differs from the other.
pub struct StepSchema {
    /// The schema name in Ironic's messages ("Schema error for <res>").
    pub res: &'static str,
    /// The interfaces a step may name, in Ironic's order (its messages list them so).
    pub interfaces: &'static [&'static str],
    /// `priority` (deploy templates) or `order` (runbooks).
    pub order_key: &'static str,
    pub args_required: bool,
}

impl StepSchema {
    fn err(&self, m: impl std::fmt::Display) -> ApiError {
        ApiError::bad_request(format!("Schema error for {}: {m}", self.res))
    }

    /// Steps: a non-empty list of step objects, each checked, the ordering key stored as
    /// an integer (Ironic also takes a string of digits) and absent `args` as `{}`.
    /// No two steps may share an interface and step name.
    pub fn check(&self, v: &Value) -> Result<Vec<Value>, ApiError> {
        let list = v
            .as_array()
            .ok_or_else(|| self.err(format!("{} is not of type 'array'", py_repr(&opaque(v)))))?;
        if list.is_empty() {
            return Err(self.err("[] should be non-empty"));
        }
        let steps = list
            .iter()
            .map(|s| self.step(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut dups: Vec<String> = vec![];
        for (i, s) in steps.iter().enumerate() {
            let key = (&s["interface"], &s["step"]);
            let seen_before = steps
                .iter()
                .take(i)
                .any(|o| (&o["interface"], &o["step"]) == key);
            let text = format!(
                "interface: {}, step: {}",
                key.0.as_str().unwrap_or_default(),
                key.1.as_str().unwrap_or_default()
            );
            if seen_before && !dups.contains(&text) {
                dups.push(text);
            }
        }
        if !dups.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Deploy template invalid: Duplicate deploy steps. A template cannot have \
                 multiple deploy steps with the same interface and step. Duplicates: {}.",
                dups.join("; ")
            )));
        }
        Ok(steps)
    }

    fn step(&self, s: &Value) -> Result<Value, ApiError> {
        let o = s
            .as_object()
            .ok_or_else(|| self.err(format!("{} is not of type 'object'", py_repr(&opaque(s)))))?;
        let keys = ["interface", "step", "args", self.order_key];
        for k in keys {
            if !o.contains_key(k) && (k != "args" || self.args_required) {
                return Err(self.err(format!("'{k}' is a required property")));
            }
        }
        if let Some(k) = o.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(self.err(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let interface = &o["interface"];
        if !interface
            .as_str()
            .is_some_and(|i| self.interfaces.contains(&i))
        {
            let names: Vec<Value> = self.interfaces.iter().map(|i| json!(i)).collect();
            return Err(self.err(format!(
                "{} is not one of {}",
                py_repr(interface),
                py_repr(&Value::Array(names))
            )));
        }
        let step = &o["step"];
        match step.as_str() {
            None => return Err(self.err(format!("{} is not of type 'string'", py_repr(step)))),
            Some("") => return Err(self.err("'' should be non-empty")),
            Some(_) => {}
        }
        let args = match o.get("args") {
            None => Map::new(),
            Some(Value::Object(a)) => a.clone(),
            Some(other) => {
                return Err(self.err(format!(
                    "{} is not of type 'object'",
                    py_repr(&opaque(other))
                )))
            }
        };
        let order = self.order(&o[self.order_key])?;
        let mut out = Map::new();
        out.insert("interface".into(), interface.clone());
        out.insert("step".into(), step.clone());
        out.insert("args".into(), Value::Object(args));
        out.insert(self.order_key.into(), json!(order));
        Ok(Value::Object(out))
    }

    /// An integer >= 0, or a non-empty string of digits.
    fn order(&self, v: &Value) -> Result<u64, ApiError> {
        match v {
            Value::Number(n) if n.is_u64() => Ok(n.as_u64().unwrap_or_default()),
            Value::Number(n) if n.is_i64() => {
                Err(self.err(format!("{} is less than the minimum of 0", py_repr(v))))
            }
            Value::String(s) if s.is_empty() => Err(self.err("'' should be non-empty")),
            Value::String(s) => s
                .parse::<u64>()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| self.err(format!("{} does not match '^[0-9]+$'", py_repr(v)))),
            _ => Err(self.err(format!(
                "{} is not valid under any of the given schemas",
                py_repr(v)
            ))),
        }
    }
}

/// A name that must be a trait (deploy templates; runbooks before 1.112).
pub fn trait_name(res: &str, v: &Value) -> Result<String, ApiError> {
    let name = Reader { res }.str(v, 255)?;
    if !validate::is_valid_trait(&name) {
        return Err(ApiError::bad_request(format!("Schema error for {res}: '{name}' is not valid under any of the given schemas. Possible root cause: '{name}' does not match '^CUSTOM_[A-Z0-9_]+$'")));
    }
    Ok(name)
}

/// A name of RFC 3986 unreserved characters (runbooks from 1.112, and in every PATCH).
pub fn logical_name(res: &str, v: &Value) -> Result<String, ApiError> {
    let name = Reader { res }.str(v, 255)?;
    if name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Schema error for {res}: '' should be non-empty"
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(ApiError::bad_request(format!(
            "Schema error for {res}: {} does not match '^[A-Za-z0-9\\\\-._~]+$'",
            py_repr(v)
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNBOOK: StepSchema = StepSchema {
        res: "runbook",
        interfaces: &["vendor", "deploy"],
        order_key: "order",
        args_required: false,
    };

    fn refusal(r: Result<impl std::fmt::Debug, ApiError>) -> String {
        match r {
            Ok(v) => panic!("accepted: {v:?}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn steps_are_normalized() {
        let s = RUNBOOK
            .check(&json!([{"interface": "deploy", "step": "x", "order": "7"}]))
            .unwrap();
        assert_eq!(
            s,
            vec![json!({"interface": "deploy", "step": "x", "args": {}, "order": 7})]
        );
    }

    #[test]
    fn bad_steps_get_ironics_schema_messages() {
        let cases = [
            (json!([]), "[] should be non-empty"),
            (json!({}), "{} is not of type 'array'"),
            (json!([1]), "'******' is not of type 'object'"),
            (
                json!([{"interface": "deploy", "step": "x"}]),
                "'order' is a required property",
            ),
            (
                json!([{"interface": "raid", "step": "x", "order": 1}]),
                "'raid' is not one of ['vendor', 'deploy']",
            ),
            (
                json!([{"interface": "deploy", "step": "", "order": 1}]),
                "'' should be non-empty",
            ),
            (
                json!([{"interface": "deploy", "step": "x", "order": -1}]),
                "-1 is less than the minimum of 0",
            ),
            (
                json!([{"interface": "deploy", "step": "x", "order": "x1"}]),
                "'x1' does not match '^[0-9]+$'",
            ),
            (
                json!([{"interface": "deploy", "step": "x", "order": 1.5}]),
                "1.5 is not valid under any of the given schemas",
            ),
            (
                json!([{"interface": "deploy", "step": "x", "order": 1, "priority": 1}]),
                "Additional properties are not allowed ('priority' was unexpected)",
            ),
            (
                json!([{"interface": "deploy", "step": "x", "order": 1, "args": []}]),
                "[] is not of type 'object'",
            ),
        ];
        for (steps, text) in cases {
            assert_eq!(
                refusal(RUNBOOK.check(&steps)),
                format!("Schema error for runbook: {text}"),
                "{steps}"
            );
        }
    }

    #[test]
    fn duplicates_are_named_once() {
        let s = json!({"interface": "deploy", "step": "x", "order": 1});
        assert_eq!(
            refusal(RUNBOOK.check(&json!([s, s, s]))),
            "Deploy template invalid: Duplicate deploy steps. A template cannot have multiple \
             deploy steps with the same interface and step. Duplicates: interface: deploy, step: x."
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            trait_name("runbook", &json!("CUSTOM_A")).unwrap(),
            "CUSTOM_A"
        );
        assert!(trait_name("runbook", &json!("rb1")).is_err());
        assert_eq!(
            logical_name("runbook", &json!("rb-1.x~")).unwrap(),
            "rb-1.x~"
        );
        assert_eq!(
            refusal(logical_name("runbook", &json!("bad name"))),
            "Schema error for runbook: 'bad name' does not match '^[A-Za-z0-9\\\\-._~]+$'"
        );
    }
}
