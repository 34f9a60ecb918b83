//! Inspection rules: their create/update/delete, and the engine that runs them on an
//! inspected node (`apply_inspection_rules`), as Ironic's `inspection_rules.engine` does.
//!
//! The engine works on a `RuleScope` in memory only: the caller (inspection processing)
//! persists node, ports and plugin data at once when every rule went through, and
//! discards the whole scope when one failed. Rules run highest priority first, the
//! database's and the built-in file's (`[inspection_rules] built_in_rules`) together; a
//! rule whose conditions all hold runs its actions in order; the first failure stops all.
//!
//! - `conditions.rs`: condition operators; `actions.rs`: action operators
//! - `interpolate.rs`: `{node.x}` / `{inventory[a]}` / `{plugin_data[x]}` / `{item}`
//! - `fields.rs`: node and port fields as rules read and write them

mod actions;
mod conditions;
mod fields;
mod interpolate;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use super::{Conductor, ConductorError as E, Result};
use crate::config::MaskSecrets;
use crate::db::StoreError;
use crate::model::inspection_rule::{self as model, InspectionRule};
use interpolate::Context;

/// What the rules see and may change: the node, its ports after the inspection hooks ran,
/// the inventory (read-only) and the plugin data.
pub struct RuleScope<'a> {
    pub node: &'a mut crate::model::node::Node,
    pub ports: &'a mut Vec<crate::model::port::Port>,
    pub inventory: &'a serde_json::Value,
    pub plugin_data: &'a mut serde_json::Value,
}

/// Why a rule stopped: an Ironic exception's text as is, or a Python error that Ironic
/// wraps with the rule and node.
#[derive(Debug)]
pub(super) enum Failure {
    Ironic(String),
    Python(String),
}

/// Keys whose values rules see as `***` when masking applies (Ironic's list).
const SENSITIVE_FIELDS: &[&str] = &["password", "auth_token", "bmc_password"];

/// Arguments formatted with the context outside loops (Ironic's `FORMATTED_ARGS`).
fn formatted_args(op: &str) -> &'static [&'static str] {
    match op {
        "eq" | "lt" | "gt" => &["values"],
        "in-net" => &["address", "subnet"],
        "is-empty" | "is-none" | "is-true" | "is-false" | "one-of" | "matches" | "contains" => {
            &["value"]
        }
        "log" => &["msg"],
        "set-attribute"
        | "extend-attribute"
        | "set-capability"
        | "set-plugin-data"
        | "extend-plugin-data"
        | "set-port-attribute"
        | "extend-port-attribute" => &["value"],
        "api-call" => &["url"],
        _ => &[],
    }
}

/// A copy of `v` with Ironic's sensitive keys, at any depth, shown as `***`.
fn masked(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let shown = if SENSITIVE_FIELDS.contains(&k.as_str()) {
                        Value::from("***")
                    } else {
                        masked(v)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(masked).collect()),
        other => other.clone(),
    }
}

/// An operation's arguments by name, interpolated where Ironic interpolates them.
fn process_args(
    spec: &model::OpSpec,
    item: &Value,
    cx: &Context,
    op: &str,
) -> std::result::Result<Map<String, Value>, Failure> {
    let args = item.get("args").unwrap_or(&Value::Null);
    let named = model::named_args(spec, args).map_err(Failure::Ironic)?;
    let formatted = formatted_args(op);
    let mut out: Map<String, Value> = named
        .into_iter()
        .map(|(k, v)| {
            let v = if formatted.contains(&k.as_str()) || cx.item.is_some() {
                interpolate::interpolate(&v, cx, op)
            } else {
                v
            };
            (k, v)
        })
        .collect();
    // In a loop, interpolated numbers became strings: Ironic compares as strings then.
    if cx.item.is_some() && spec.optional.contains(&"force_strings") {
        out.insert("force_strings".into(), Value::Bool(true));
    }
    Ok(out)
}

/// The loop of a condition or action: its items, or None when it does not loop (absent
/// or empty). A dict loop is one item.
fn loop_items(item: &Value) -> Option<Vec<Value>> {
    match item.get("loop") {
        Some(Value::Array(a)) if !a.is_empty() => Some(a.clone()),
        Some(d @ Value::Object(m)) if !m.is_empty() => Some(vec![d.clone()]),
        _ => None,
    }
}

impl Conductor {
    pub async fn inspection_rule_create(&self, mut r: InspectionRule) -> Result<InspectionRule> {
        r.created_at = crate::model::now();
        r.updated_at = None;
        let uuid = r.uuid.clone();
        self.store
            .inspection_rule_create(r)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } => E::InspectionRuleAlreadyExists(uuid),
                other => E::Store(other),
            })
    }

    pub async fn inspection_rule_update(&self, mut r: InspectionRule) -> Result<InspectionRule> {
        r.updated_at = Some(crate::model::now());
        let uuid = r.uuid.clone();
        self.store
            .inspection_rule_save(r)
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } => E::InspectionRuleAlreadyExists(uuid),
                other => E::Store(other),
            })
    }

    pub async fn inspection_rule_delete(&self, r: InspectionRule) -> Result<()> {
        Ok(self.store.inspection_rule_delete(r.id).await?)
    }

    /// Delete every rule stored through the API (built-in rules are not stored).
    pub async fn inspection_rule_delete_all(&self) -> Result<usize> {
        Ok(self.store.inspection_rule_delete_all().await?)
    }

    /// Every rule of phase "main" (DB + built-in file), priority descending, applied to the
    /// scope in memory only. On Err(message) the caller discards the whole scope, records the
    /// message in last_error and fails the inspection; on Ok it persists everything at once.
    pub async fn apply_inspection_rules(
        &self,
        scope: &mut RuleScope<'_>,
    ) -> std::result::Result<(), String> {
        let mut rules = self
            .store
            .inspection_rules_of_phase(model::PHASE_MAIN.into())
            .await
            .map_err(|e| format!("Failed to load inspection rules: {e}"))?;
        rules.extend(
            self.config
                .inspection_rules
                .built_in_rules
                .iter()
                .filter(|r| r.phase == model::PHASE_MAIN)
                .cloned(),
        );
        // Stable: equal priorities keep database (creation) order, then the file's.
        rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
        if rules.is_empty() {
            return Ok(());
        }
        let mode = self.config.inspection_rules.mask_secrets;
        let masked_inventory = masked(scope.inventory);
        for rule in &rules {
            let mask = match mode {
                MaskSecrets::Always => true,
                MaskSecrets::Never => false,
                MaskSecrets::Sensitive => !rule.sensitive,
            };
            self.apply_rule(rule, scope, mask.then_some(&masked_inventory))
                .await
                .map_err(|f| match f {
                    Failure::Ironic(m) => m,
                    Failure::Python(m) => format!(
                        "Failed to apply rule {} to node {}: {m}",
                        rule.uuid, scope.node.uuid
                    ),
                })?;
        }
        tracing::info!(node = %scope.node.uuid, rules = rules.len(), "applied inspection rules");
        Ok(())
    }

    /// One rule: its conditions on the (masked) data, then, if all hold, its actions.
    async fn apply_rule(
        &self,
        rule: &InspectionRule,
        scope: &mut RuleScope<'_>,
        masked_inventory: Option<&Value>,
    ) -> std::result::Result<(), Failure> {
        let plugin_view = match masked_inventory {
            Some(_) => masked(scope.plugin_data),
            None => scope.plugin_data.clone(),
        };
        let inventory = masked_inventory.unwrap_or(scope.inventory);
        for condition in &rule.conditions {
            let cx = Context {
                node: scope.node,
                inventory,
                plugin_data: &plugin_view,
                item: None,
            };
            if !check_condition(condition, &cx)? {
                tracing::debug!(rule = %rule.uuid, node = %scope.node.uuid, "inspection rule skipped: a condition does not hold");
                return Ok(());
            }
        }
        tracing::info!(rule = %rule.uuid, node = %scope.node.uuid, "applying inspection rule actions");
        for action in &rule.actions {
            let name = action.get("op").and_then(Value::as_str).unwrap_or_default();
            let spec = model::action_spec(name)
                .ok_or_else(|| Failure::Ironic(format!("Unsupported action '{name}'.")))?;
            let items = loop_items(action);
            let runs: Vec<Option<Value>> = match items {
                Some(items) => items.into_iter().map(Some).collect(),
                None => vec![None],
            };
            for item in runs {
                // Each action sees what the actions before it did (plugin data and node).
                let plugin_now = match masked_inventory {
                    Some(_) => masked(scope.plugin_data),
                    None => scope.plugin_data.clone(),
                };
                let args = {
                    let cx = Context {
                        node: scope.node,
                        inventory,
                        plugin_data: &plugin_now,
                        item: item.as_ref(),
                    };
                    process_args(spec, action, &cx, name)?
                };
                self.run_action(name, &args, scope).await?;
            }
        }
        Ok(())
    }
}

/// A condition, negated by `!`, over its loop combined by `multiple` as Ironic does
/// (`first` returns at the first true item, and otherwise the first item's result).
fn check_condition(condition: &Value, cx: &Context) -> std::result::Result<bool, Failure> {
    let raw = condition
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (name, inverted) = model::parse_inverted(raw).map_err(Failure::Python)?;
    let spec = model::condition_spec(name).ok_or_else(|| {
        let supported: Vec<&str> = model::CONDITIONS.iter().map(|s| s.name).collect();
        Failure::Python(format!(
            "Unsupported operator: '{name}'. Supported operators are: {}.",
            supported.join(", ")
        ))
    })?;
    let once = |item: Option<&Value>| -> std::result::Result<bool, Failure> {
        let cx = Context {
            node: cx.node,
            inventory: cx.inventory,
            plugin_data: cx.plugin_data,
            item,
        };
        let args = process_args(spec, condition, &cx, name)?;
        Ok(conditions::check(name, &args)? != inverted)
    };
    let Some(items) = loop_items(condition) else {
        return once(None);
    };
    let multiple = condition
        .get("multiple")
        .and_then(Value::as_str)
        .unwrap_or("any");
    let mut results = vec![];
    for item in &items {
        let r = once(Some(item))?;
        match multiple {
            "first" if r => return Ok(true),
            "last" => results = vec![r],
            _ => results.push(r),
        }
    }
    Ok(match multiple {
        "any" => results.iter().any(|r| *r),
        "all" => results.iter().all(|r| *r),
        _ => results.first().copied().unwrap_or(false),
    })
}
