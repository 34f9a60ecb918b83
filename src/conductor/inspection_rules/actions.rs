//! Action operators: each changes the scope in memory (node, ports, plugin data) or logs,
//! fails the inspection, or calls an allowed URL. Messages are Ironic's exception texts,
//! with a value shown as `***` where its path names a secret.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::config::InspectionRulesSection;
use crate::model::inspection_rule::py_str;
use crate::model::node::Node;
use crate::model::port::Port;
use crate::model::secrets;

use super::fields;
use super::{Failure, RuleScope};
use crate::conductor::Conductor;

/// What an action failure says, as Ironic's RuleActionExecutionFailure words it.
fn action_failure(reason: String) -> Failure {
    Failure::Ironic(format!(
        "Inspection rule action execution failed. Reason: {reason}"
    ))
}

/// A path as Ironic splits it: `/a/b` on slashes, else `a.b` on dots.
pub(super) fn split_path(path: &str) -> Vec<String> {
    if path.contains('/') {
        path.trim_matches('/')
            .split('/')
            .map(str::to_string)
            .collect()
    } else {
        path.split('.').map(str::to_string).collect()
    }
}

/// The value as an error message may show it.
fn shown(parts: &[String], value: &Value) -> String {
    if parts.iter().any(|p| secrets::is_secret_key(p)) {
        secrets::MASK.to_string()
    } else {
        py_str(&secrets::masked(value))
    }
}

/// A node or a port: fields read and written as JSON.
trait Fields {
    const KIND: &'static str;
    fn get(&self, name: &str) -> Option<Value>;
    fn set(&mut self, name: &str, v: Value) -> Result<(), String>;
    fn default(&self, name: &str) -> Option<Value>;
}

impl Fields for Node {
    const KIND: &'static str = "Node";
    fn get(&self, name: &str) -> Option<Value> {
        fields::node_get(self, name)
    }
    fn set(&mut self, name: &str, v: Value) -> Result<(), String> {
        fields::node_set(self, name, v)
    }
    fn default(&self, name: &str) -> Option<Value> {
        fields::node_default(self, name)
    }
}

impl Fields for Port {
    const KIND: &'static str = "Port";
    fn get(&self, name: &str) -> Option<Value> {
        fields::port_get(self, name)
    }
    fn set(&mut self, name: &str, v: Value) -> Result<(), String> {
        fields::port_set(self, name, v)
    }
    fn default(&self, name: &str) -> Option<Value> {
        fields::port_default(self, name)
    }
}

fn no_attr<T: Fields>(name: &str) -> String {
    format!("'{}' object has no attribute '{name}'", T::KIND)
}

/// The object at `parts` under `root`, made on the way (Python's `setdefault(part, {})`).
fn walk<'v>(root: &'v mut Value, parts: &[String]) -> Result<&'v mut Map<String, Value>, String> {
    let mut current = root;
    for part in parts {
        let Value::Object(m) = current else {
            return Err(format!(
                "'{}' object has no attribute 'setdefault'",
                super::conditions::type_name(current)
            ));
        };
        current = m
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    match current {
        Value::Object(m) => Ok(m),
        other => Err(format!(
            "'{}' object does not support item assignment",
            super::conditions::type_name(other)
        )),
    }
}

/// Split `parts` into the field, the objects between and the last key.
fn split(parts: &[String]) -> Result<(&String, &[String], &String), String> {
    match parts {
        [field, middle @ .., last] => Ok((field, middle, last)),
        _ => Err("empty path".into()),
    }
}

fn set_attr<T: Fields>(obj: &mut T, parts: &[String], value: Value) -> Result<(), String> {
    if let [field] = parts {
        return obj.set(field, value);
    }
    let (field, middle, last) = split(parts)?;
    let mut base = obj.get(field).ok_or_else(|| no_attr::<T>(field))?;
    walk(&mut base, middle)?.insert(last.clone(), value);
    obj.set(field, base)
}

fn extend_attr<T: Fields>(
    obj: &mut T,
    parts: &[String],
    value: Value,
    unique: bool,
) -> Result<(), String> {
    let not_list = || "Cannot extend non-list attribute".to_string();
    if let [field] = parts {
        let mut current = obj.get(field).unwrap_or(Value::Array(vec![]));
        let list = current.as_array_mut().ok_or_else(not_list)?;
        if !unique || !list.iter().any(|v| super::conditions::py_eq(v, &value)) {
            list.push(value);
        }
        return obj.set(field, current);
    }
    let (field, middle, last) = split(parts)?;
    let mut base = obj.get(field).ok_or_else(|| no_attr::<T>(field))?;
    let list = walk(&mut base, middle)?
        .entry(last.clone())
        .or_insert_with(|| Value::Array(vec![]))
        .as_array_mut()
        .ok_or_else(not_list)?;
    if !unique || !list.iter().any(|v| super::conditions::py_eq(v, &value)) {
        list.push(value);
    }
    obj.set(field, base)
}

/// Unset the field (to its default) or a key under it; as Ironic's documentation says, a
/// missing key under a field is not an error.
fn del_attr<T: Fields>(obj: &mut T, parts: &[String]) -> Result<(), String> {
    if let [field] = parts {
        let d = obj.default(field).ok_or_else(|| no_attr::<T>(field))?;
        return obj.set(field, d);
    }
    let (field, middle, last) = split(parts)?;
    let mut base = obj.get(field).ok_or_else(|| no_attr::<T>(field))?;
    let mut current = &mut base;
    for part in middle {
        match current.get_mut(part.as_str()) {
            Some(next) => current = next,
            None => return Ok(()),
        }
    }
    if let Value::Object(m) = current {
        m.remove(last.as_str());
    }
    obj.set(field, base)
}

fn unique(args: &Map<String, Value>) -> bool {
    args.get("unique")
        .is_some_and(|v| !crate::model::inspection_rule::is_empty(v))
}

fn text(args: &Map<String, Value>, k: &str) -> String {
    py_str(args.get(k).unwrap_or(&Value::Null))
}

impl Conductor {
    /// Run action `op` on the scope with its processed arguments.
    pub(super) async fn run_action(
        &self,
        op: &str,
        args: &Map<String, Value>,
        scope: &mut RuleScope<'_>,
    ) -> Result<(), Failure> {
        let value = || args.get("value").cloned().unwrap_or(Value::Null);
        let path = text(args, "path");
        let parts = split_path(&path);
        match op {
            "fail" => Err(Failure::Ironic(format!(
                "Failed to inspect hardware. Reason: {}",
                secrets::mask_text(&text(args, "msg"))
            ))),
            "log" => log(&text(args, "msg"), args.get("level")),
            "set-attribute" => {
                let v = value();
                self.node_change(scope.node, &parts, |n| set_attr(n, &parts, v.clone()))
                    .map_err(|e| {
                        action_failure(format!(
                            "Failed to set attribute {path} with value {}: {e}",
                            shown(&parts, &v)
                        ))
                    })
            }
            "extend-attribute" => self
                .node_change(scope.node, &parts, |n| {
                    extend_attr(n, &parts, value(), unique(args))
                })
                .map_err(|e| action_failure(format!("Failed to extend attribute {path}: {e}"))),
            "del-attribute" => self
                .node_change(scope.node, &parts, |n| del_attr(n, &parts))
                .map_err(|e| action_failure(format!("Failed to delete attribute at {path}: {e}"))),
            "set-capability" | "unset-capability" => {
                let name = text(args, "name");
                set_capability(scope.node, &name, (op == "set-capability").then(value)).map_err(
                    |e| {
                        let verb = if op == "set-capability" {
                            "set"
                        } else {
                            "unset"
                        };
                        action_failure(format!("Failed to {verb} capability {name}: {e}"))
                    },
                )
            }
            "add-trait" => {
                let name = text(args, "name");
                add_trait(scope.node, &name)
                    .map_err(|e| action_failure(format!("Failed to add new trait {name}: {e}")))
            }
            "remove-trait" => {
                let name = text(args, "name");
                if !scope.node.traits.contains(&name) {
                    tracing::warn!(node = %scope.node.uuid, trait_name = %name, "inspection rule: trait to remove is not on the node");
                }
                scope.node.traits.retain(|t| t != &name);
                Ok(())
            }
            "set-plugin-data" | "extend-plugin-data" | "unset-plugin-data" => {
                plugin_data(op, scope.plugin_data, &path, value(), unique(args)).map_err(|e| {
                    let verb = op.trim_end_matches("-plugin-data");
                    action_failure(format!("Failed to {verb} plugin data at {path}: {e}"))
                })
            }
            "set-port-attribute" | "extend-port-attribute" | "del-port-attribute" => {
                let id = text(args, "port_id");
                let port = scope
                    .ports
                    .iter_mut()
                    .find(|p| p.uuid == id || p.address.eq_ignore_ascii_case(&id))
                    .ok_or_else(|| Failure::Ironic(format!("Port {id} could not be found.")))?;
                let done = match op {
                    "set-port-attribute" => set_attr(port, &parts, value()),
                    "extend-port-attribute" => extend_attr(port, &parts, value(), unique(args)),
                    _ => del_attr(port, &parts),
                };
                done.map_err(|e| {
                    let verb = match op {
                        "set-port-attribute" => "set",
                        "extend-port-attribute" => "extend",
                        _ => "delete",
                    };
                    action_failure(format!(
                        "Failed to {verb} attribute {path} for port {id}: {e}"
                    ))
                })
            }
            "api-call" => api_call(&self.config.inspection_rules, args).await,
            other => Err(Failure::Ironic(format!("Unsupported action '{other}'."))),
        }
    }

    /// Apply `change` to the node; a changed driver or interface must be one the node
    /// could be given through the API (enabled, and valid for its hardware type).
    fn node_change(
        &self,
        node: &mut Node,
        parts: &[String],
        change: impl FnOnce(&mut Node) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut new = node.clone();
        change(&mut new)?;
        let field = parts.first().map(String::as_str).unwrap_or_default();
        if new.driver != node.driver || new.interfaces != node.interfaces {
            self.resolve_interfaces(&mut new, false, &[field.to_string()])
                .map_err(|e| e.to_string())?;
        }
        *node = new;
        Ok(())
    }
}

fn log(msg: &str, level: Option<&Value>) -> Result<(), Failure> {
    let level = level.map(py_str).unwrap_or_else(|| "info".into());
    let msg = secrets::mask_text(msg);
    match level.to_lowercase().as_str() {
        "debug" => tracing::debug!(target: "inspection_rules", "{msg}"),
        "info" => tracing::info!(target: "inspection_rules", "{msg}"),
        "warning" => tracing::warn!(target: "inspection_rules", "{msg}"),
        "error" | "critical" => tracing::error!(target: "inspection_rules", "{msg}"),
        _ => {
            return Err(Failure::Ironic(format!(
                "Inspection rule execution failed. Reason: Invalid log level: {level}. \
                 Choose from {{'debug', 'info', 'warning', 'error', 'critical'}}"
            )))
        }
    }
    Ok(())
}

/// Ironic's `add_node_capability` (appends `name:value`, duplicates and all) and
/// `remove_node_capability` (drops every `name:` entry, leaving an empty string).
fn set_capability(node: &mut Node, name: &str, value: Option<Value>) -> Result<(), String> {
    let current = match node.properties.get("capabilities") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "capabilities is a {}, not a string",
                super::conditions::type_name(other)
            ))
        }
    };
    let caps = match value {
        Some(v) => {
            let new_cap = format!("{name}:{}", py_str(&v));
            if current.is_empty() {
                new_cap
            } else {
                format!("{current},{new_cap}")
            }
        }
        None => current
            .split(',')
            .filter(|c| !c.starts_with(&format!("{name}:")))
            .collect::<Vec<_>>()
            .join(","),
    };
    node.properties
        .insert("capabilities".into(), Value::from(caps));
    Ok(())
}

/// Traits as the node traits API accepts them, at most 50.
fn add_trait(node: &mut Node, name: &str) -> Result<(), String> {
    fields::check_trait(name)?;
    if node.traits.iter().any(|t| t == name) {
        return Ok(());
    }
    if node.traits.len() >= 50 {
        return Err("a node may have at most 50 traits".into());
    }
    node.traits.push(name.to_string());
    Ok(())
}

/// Plugin data paths split on dots only, as Ironic's `update_nested_dict` splits them.
fn plugin_data(
    op: &str,
    data: &mut Value,
    path: &str,
    value: Value,
    unique: bool,
) -> Result<(), String> {
    let keys: Vec<String> = path.split('.').map(str::to_string).collect();
    let (last, parents) = keys.split_last().ok_or("empty path")?;
    match op {
        "set-plugin-data" => {
            walk(data, parents)?.insert(last.clone(), value);
        }
        "extend-plugin-data" => {
            let slot = walk(data, parents)?
                .entry(last.clone())
                .or_insert_with(|| Value::Array(vec![]));
            // Ironic's `current or []`: a falsy value starts a new list.
            if crate::model::inspection_rule::is_empty(slot) {
                *slot = Value::Array(vec![]);
            }
            let kind = super::conditions::type_name(slot);
            let list = slot
                .as_array_mut()
                .ok_or_else(|| format!("'{kind}' object has no attribute 'append'"))?;
            if !unique || !list.iter().any(|v| super::conditions::py_eq(v, &value)) {
                list.push(value);
            }
        }
        _ => {
            if !unset_nested(data, &keys) {
                tracing::warn!(path, "inspection rule: plugin data path not found");
            }
        }
    }
    Ok(())
}

/// Remove `keys` from `data`; a dict left empty by it goes too (Ironic drops the parent of a
/// sole key). Whether the path was there.
fn unset_nested(data: &mut Value, keys: &[String]) -> bool {
    match keys {
        [] => false,
        [last] => data
            .as_object_mut()
            .is_some_and(|m| m.remove(last.as_str()).is_some()),
        [first, rest @ ..] => {
            let Some(m) = data.as_object_mut() else {
                return false;
            };
            let Some(child) = m.get_mut(first.as_str()) else {
                return false;
            };
            let found = unset_nested(child, rest);
            if found && child.as_object().is_some_and(Map::is_empty) {
                m.remove(first.as_str());
            }
            found
        }
    }
}

/// The `api-call` action: a GET to a URL whose host `[inspection_rules]
/// api_call_allowed_hosts` names, retried on connection errors and 429/5xx with
/// exponential back-off, never following redirects (they could lead elsewhere).
async fn api_call(cfg: &InspectionRulesSection, args: &Map<String, Value>) -> Result<(), Failure> {
    let url = text(args, "url");
    let invalid = |m: &str| action_failure(format!("Invalid parameter: {m}"));
    let num = |k: &str, default: f64| -> Result<f64, Failure> {
        match args.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => n.as_f64().ok_or_else(|| invalid(k)),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| invalid(&format!("could not convert string to float: '{s}'"))),
            Some(_) => Err(invalid(&format!("{k} must be a number"))),
        }
    };
    let timeout = num("timeout", 5.0)?;
    if timeout.is_nan() || timeout <= 0.0 {
        return Err(invalid("timeout must be greater than zero"));
    }
    let retries = num("retries", 3.0)?.clamp(0.0, 10.0) as u32;
    let backoff = num("backoff_factor", 0.3)?.clamp(0.0, 10.0);
    if args
        .get("proxies")
        .is_some_and(|p| !crate::model::inspection_rule::is_empty(p))
    {
        return Err(invalid("proxies are not supported"));
    }
    let failed = |e: String| action_failure(format!("Request to {url} failed: {e}"));
    let parsed = reqwest::Url::parse(&url).map_err(|e| failed(e.to_string()))?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if !matches!(parsed.scheme(), "http" | "https") || !cfg.api_call_allowed_hosts.contains(&host) {
        return Err(failed(format!(
            "host {host:?} is not in [inspection_rules] api_call_allowed_hosts"
        )));
    }
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(Value::Object(h)) = args.get("headers") {
        for (k, v) in h {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| invalid(&e.to_string()))?;
            let value = reqwest::header::HeaderValue::from_str(&py_str(v))
                .map_err(|e| invalid(&e.to_string()))?;
            headers.insert(name, value);
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs_f64(timeout.min(120.0)))
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let mut attempt = 0;
    loop {
        let outcome = client.get(parsed.clone()).send().await;
        let retry = match &outcome {
            Ok(r) => matches!(r.status().as_u16(), 429 | 500 | 502 | 503 | 504),
            Err(e) => e.is_connect() || e.is_timeout(),
        };
        if !retry || attempt >= retries {
            let resp = outcome.map_err(|e| failed(e.to_string()))?;
            let status = resp.status();
            if status.is_client_error() || status.is_server_error() {
                return Err(failed(format!("{status} for url: {url}")));
            }
            return Ok(());
        }
        attempt += 1;
        let wait = backoff * 2f64.powi(attempt as i32 - 1);
        tokio::time::sleep(Duration::from_secs_f64(wait.min(10.0))).await;
    }
}
