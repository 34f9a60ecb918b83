//! An inspection rule (API 1.96): conditions checked and actions run on a node's inspection
//! data. Also the rule's checks, shared by the API, the built-in rules file and the engine:
//! Ironic's request schema (`schema_errors`) and its plugin checks (`validate_rule`), with
//! Ironic's messages, and Python's `repr`/`str` that those messages and `str.format` use.

use serde_json::{Map, Value};

use super::secrets;

/// The only phase Ironic has.
pub const PHASE_MAIN: &str = "main";
/// Highest priority of a rule created through the API (built-in rules may go beyond).
pub const MAX_USER_PRIORITY: i64 = 9999;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InspectionRule {
    pub id: i64,
    pub uuid: String,
    pub description: Option<String>,
    pub priority: i64,
    /// Conditions and actions hidden from every API response, and (with
    /// `[inspection_rules] mask_secrets = sensitive`) shown unmasked data.
    pub sensitive: bool,
    pub phase: String,
    /// `[{op, args, loop?, multiple?}]`
    pub conditions: Vec<Value>,
    /// `[{op, args, loop?}]`
    pub actions: Vec<Value>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl InspectionRule {
    /// The rule as a JSON document (what a PATCH applies to, what validation reads).
    pub fn document(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("uuid".into(), Value::from(self.uuid.clone()));
        m.insert("description".into(), opt(&self.description));
        m.insert("priority".into(), Value::from(self.priority));
        m.insert("sensitive".into(), Value::from(self.sensitive));
        m.insert("phase".into(), Value::from(self.phase.clone()));
        m.insert("conditions".into(), Value::from(self.conditions.clone()));
        m.insert("actions".into(), Value::from(self.actions.clone()));
        m
    }

    /// A rule from a document that passed `schema_errors` and `validate_rule`; absent or
    /// null fields take Ironic's defaults.
    pub fn from_document(d: &Map<String, Value>) -> InspectionRule {
        let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
        let list = |k: &str| {
            d.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        InspectionRule {
            uuid: text("uuid").unwrap_or_default(),
            description: text("description"),
            priority: d.get("priority").and_then(Value::as_i64).unwrap_or(0),
            sensitive: d.get("sensitive").and_then(Value::as_bool).unwrap_or(false),
            phase: text("phase").unwrap_or_else(|| PHASE_MAIN.into()),
            conditions: list("conditions"),
            actions: list("actions"),
            ..Default::default()
        }
    }
}

fn opt(s: &Option<String>) -> Value {
    s.clone().map(Value::from).unwrap_or(Value::Null)
}

/// A condition or action operator and the names of its arguments (Ironic's plugin
/// signatures, without the `plugin_data` the engine supplies itself).
#[derive(Debug)]
pub struct OpSpec {
    pub name: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

const fn op(
    name: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
) -> OpSpec {
    OpSpec {
        name,
        required,
        optional,
    }
}

/// Condition operators, in Ironic's order (its enum messages list them so).
pub const CONDITIONS: &[OpSpec] = &[
    op("eq", &["values"], &["force_strings"]),
    op("lt", &["values"], &["force_strings"]),
    op("gt", &["values"], &["force_strings"]),
    op("is-empty", &["value"], &[]),
    op("in-net", &["address", "subnet"], &[]),
    op("matches", &["value", "regex"], &[]),
    op("contains", &["value", "regex"], &[]),
    op("one-of", &["value"], &["values"]),
    op("is-none", &["value"], &[]),
    op("is-true", &["value"], &[]),
    op("is-false", &["value"], &[]),
];

/// Action operators, in Ironic's order.
pub const ACTIONS: &[OpSpec] = &[
    op("fail", &["msg"], &[]),
    op("log", &["msg"], &["level"]),
    op("set-attribute", &["path", "value"], &[]),
    op("extend-attribute", &["path", "value"], &["unique"]),
    op("del-attribute", &["path"], &[]),
    op("set-capability", &["name", "value"], &[]),
    op("unset-capability", &["name"], &[]),
    op("add-trait", &["name"], &[]),
    op("remove-trait", &["name"], &[]),
    op("set-plugin-data", &["path", "value"], &[]),
    op("extend-plugin-data", &["path", "value"], &["unique"]),
    op("unset-plugin-data", &["path"], &[]),
    op("set-port-attribute", &["port_id", "path", "value"], &[]),
    op(
        "extend-port-attribute",
        &["port_id", "path", "value"],
        &["unique"],
    ),
    op("del-port-attribute", &["port_id", "path"], &[]),
    op(
        "api-call",
        &["url"],
        &["headers", "proxies", "timeout", "retries", "backoff_factor"],
    ),
];

pub fn condition_spec(name: &str) -> Option<&'static OpSpec> {
    CONDITIONS.iter().find(|s| s.name == name)
}

pub fn action_spec(name: &str) -> Option<&'static OpSpec> {
    ACTIONS.iter().find(|s| s.name == name)
}

/// A condition's operator without its `!` (and the spaces Ironic strips), and whether it
/// was negated; more than one `!` is an error.
pub fn parse_inverted(op: &str) -> Result<(&str, bool), String> {
    let op = op.trim();
    if op.matches('!').count() > 1 {
        return Err(
            "Multiple exclamation marks are not allowed. To apply the invert of an \
                    operation, simply add an exclamation mark (with an optional space) before \
                    the operator, e.g. eq - !eq."
                .into(),
        );
    }
    match op.strip_prefix('!') {
        Some(rest) => Ok((rest.trim(), true)),
        None => Ok((op, false)),
    }
}

/// `args` by name: the dictionary form as is, the (deprecated) list form by position, extra
/// positions dropped as Ironic's `zip` drops them.
pub fn named_args(spec: &OpSpec, args: &Value) -> Result<Map<String, Value>, String> {
    match args {
        Value::Object(m) => Ok(m.clone()),
        Value::Array(list) => {
            if list.len() < spec.required.len() {
                let missing = spec.required.get(list.len()..).unwrap_or_default();
                return Err(format!(
                    "Not enough arguments provided. Missing: {}",
                    missing.join(", ")
                ));
            }
            let names = spec.required.iter().chain(spec.optional);
            Ok(names
                .zip(list)
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect())
        }
        _ => Err("args must be either a list or dictionary".into()),
    }
}

/// Ironic's check of one operator's arguments: every required name present, no unknown one.
pub fn check_args(spec: &OpSpec, args: &Value) -> Result<(), String> {
    let named = named_args(spec, args)?;
    let missing: Vec<&str> = spec
        .required
        .iter()
        .copied()
        .filter(|r| !named.contains_key(*r))
        .collect();
    let unexpected: Vec<&str> = named
        .keys()
        .map(String::as_str)
        .filter(|k| !spec.required.contains(k) && !spec.optional.contains(k))
        .collect();
    let mut msg = vec![];
    if !missing.is_empty() {
        msg.push(format!(
            "missing required argument(s): {}",
            missing.join(", ")
        ));
    }
    if !unexpected.is_empty() {
        msg.push(format!("unexpected argument(s): {}", unexpected.join(", ")));
    }
    if msg.is_empty() {
        Ok(())
    } else {
        Err(msg.join("; "))
    }
}

/// The first error of Ironic's `create_request_body` JSON schema, worded as jsonschema
/// words it (the caller prefixes "Schema error: "), secrets masked.
pub fn schema_error(rule: &Value) -> Option<String> {
    let Some(obj) = rule.as_object() else {
        return Some(not_type(rule, "'object'"));
    };
    if let Some(e) = obj.get("actions").and_then(|a| ops_error(a, true)) {
        return Some(e);
    }
    if let Some(e) = obj.get("conditions").and_then(|c| ops_error(c, false)) {
        return Some(e);
    }
    let text = |k: &str, max: usize| match obj.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() > max => {
            Some(format!("{} is too long", repr_masked(&obj[k])))
        }
        Some(Value::String(_)) => None,
        Some(v) => Some(not_type(v, "'string', 'null'")),
    };
    if let Some(e) = text("description", 255).or_else(|| text("phase", 16)) {
        return Some(e);
    }
    match obj.get("priority") {
        None => {}
        Some(v) => match v.as_i64() {
            Some(p) if p < 0 => return Some(format!("{p} is less than the minimum of 0")),
            Some(_) => {}
            None if v.is_u64() => {}
            None => return Some(not_type(v, "'integer'")),
        },
    }
    if let Some(v) = obj.get("sensitive") {
        if !v.is_boolean() && !v.is_null() {
            return Some(not_type(v, "'boolean', 'null'"));
        }
    }
    if let Some(e) = text("uuid", usize::MAX) {
        return Some(e);
    }
    if !obj.contains_key("actions") {
        return Some("'actions' is a required property".into());
    }
    let known = [
        "actions",
        "conditions",
        "description",
        "phase",
        "priority",
        "sensitive",
        "uuid",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Some(format!(
            "Additional properties are not allowed ('{k}' was unexpected)"
        ));
    }
    None
}

/// The schema of the `actions` (`is_action`) or `conditions` list.
fn ops_error(list: &Value, is_action: bool) -> Option<String> {
    let Some(items) = list.as_array() else {
        return Some(not_type(list, "'array'"));
    };
    if is_action && items.is_empty() {
        return Some("[] should be non-empty".into());
    }
    for item in items {
        let Some(o) = item.as_object() else {
            return Some(not_type(item, "'object'"));
        };
        for k in ["op", "args"] {
            if !o.contains_key(k) {
                return Some(format!("'{k}' is a required property"));
            }
        }
        let op = &o["op"];
        let known = op.as_str().is_some_and(|s| {
            let bare = s.strip_prefix('!').filter(|_| !is_action).unwrap_or(s);
            if is_action {
                action_spec(bare).is_some()
            } else {
                condition_spec(bare).is_some()
            }
        });
        if !known {
            return Some(format!(
                "{} is not one of {}",
                repr_masked(op),
                op_names(is_action)
            ));
        }
        if !o["args"].is_array() && !o["args"].is_object() {
            return Some(not_type(&o["args"], "'array', 'object'"));
        }
        if let Some(m) = o.get("multiple").filter(|_| !is_action) {
            if !matches!(m.as_str(), Some("any" | "all" | "first" | "last")) {
                return Some(format!(
                    "{} is not one of ['any', 'all', 'first', 'last']",
                    repr_masked(m)
                ));
            }
        }
        if let Some(l) = o.get("loop") {
            if !l.is_array() && !l.is_object() {
                return Some(not_type(l, "'array', 'object'"));
            }
        }
    }
    None
}

/// The operator names as the schema's enum lists them (conditions also negated).
fn op_names(is_action: bool) -> String {
    let names: Vec<String> = if is_action {
        ACTIONS.iter().map(|s| format!("'{}'", s.name)).collect()
    } else {
        let plain = CONDITIONS.iter().map(|s| format!("'{}'", s.name));
        let negated = CONDITIONS.iter().map(|s| format!("'!{}'", s.name));
        plain.chain(negated).collect()
    };
    format!("[{}]", names.join(", "))
}

fn not_type(v: &Value, types: &str) -> String {
    format!("{} is not of type {types}", repr_masked(v))
}

fn repr_masked(v: &Value) -> String {
    py_repr(&secrets::masked(v))
}

/// Ironic's `validate_rule` after the schema: the phase, the priority (up to 9999 unless
/// `built_in`) and every operator's arguments; all errors at once as Ironic joins them.
pub fn validate_rule(rule: &Map<String, Value>, built_in: bool) -> Result<(), String> {
    let mut errors = vec![];
    let phase = rule
        .get("phase")
        .cloned()
        .unwrap_or_else(|| PHASE_MAIN.into());
    if phase.as_str() != Some(PHASE_MAIN) {
        errors.push(format!(
            "Invalid phase: {}. Valid phases are: {PHASE_MAIN}",
            py_str(&phase)
        ));
    }
    let priority = rule.get("priority").and_then(Value::as_i64).unwrap_or(0);
    if priority < 0 && !built_in {
        errors.push("Priority cannot be negative for user-defined rules.".into());
    }
    // A priority beyond i64 is a u64 only.
    let huge = rule
        .get("priority")
        .is_some_and(|p| p.is_u64() && p.as_i64().is_none());
    if (priority > MAX_USER_PRIORITY || huge) && !built_in {
        errors.push("Priority must be between 0 and 9999 for user-defined rules.".into());
    }
    let ops = |key: &str| {
        rule.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for c in ops("conditions") {
        let raw = c.get("op").and_then(Value::as_str).unwrap_or_default();
        let checked = parse_inverted(raw).and_then(|(name, _)| {
            let spec = condition_spec(name)
                .ok_or_else(|| format!("Unsupported condition operator: {name}"))?;
            check_args(spec, c.get("args").unwrap_or(&Value::Null))
                .map_err(|e| format!("Invalid parameters for condition operator {name}: {e}"))
        });
        if let Err(e) = checked {
            errors.push(e);
        }
    }
    for a in ops("actions") {
        let name = a.get("op").and_then(Value::as_str).unwrap_or_default();
        let checked = action_spec(name)
            .ok_or_else(|| format!("Unsupported action operator: {name}"))
            .and_then(|spec| {
                check_args(spec, a.get("args").unwrap_or(&Value::Null))
                    .map_err(|e| format!("Invalid parameters for action operator {name}: {e}"))
            });
        if let Err(e) = checked {
            errors.push(e);
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(format!(
            "Multiple validation errors occurred: {}",
            errors.join("; ")
        )),
    }
}

/// A rule as the API shows it: Ironic's `convert_conditions`/`convert_actions` keep `op`
/// and `args`, and `loop` (with `multiple`, default `any`, for conditions) when non-empty.
pub fn shown_ops(list: &[Value], conditions: bool) -> Value {
    let shown = list.iter().map(|item| {
        let mut m = Map::new();
        m.insert("op".into(), item.get("op").cloned().unwrap_or(Value::Null));
        m.insert(
            "args".into(),
            item.get("args").cloned().unwrap_or(Value::Null),
        );
        if let Some(l) = item.get("loop").filter(|l| !is_empty(l)) {
            m.insert("loop".into(), l.clone());
            if conditions {
                let multiple = item.get("multiple").cloned();
                m.insert("multiple".into(), multiple.unwrap_or_else(|| "any".into()));
            }
        }
        Value::Object(m)
    });
    Value::Array(shown.collect())
}

/// Python's falsiness of a JSON value (`if x:`).
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Python's `repr()` of the value as `json.loads` would give it.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => py_number(n),
        Value::String(s) => {
            // Python picks double quotes for a string with a ' and no ".
            if s.contains('\'') && !s.contains('"') {
                format!("\"{}\"", s.replace('\\', "\\\\"))
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        }
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::from(k.as_str())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's `str()`: a string as itself, anything else as its repr.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

fn py_number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or(0.0);
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
            return format!("{f:.1}");
        }
    }
    n.to_string()
}
