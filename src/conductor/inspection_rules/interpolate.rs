//! Ironic's variable interpolation: Python's `str.format` with `node`, `inventory`,
//! `plugin_data` and the loop's `item`, applied to strings anywhere in a dict or list.
//! The result of a formatted string is always a string (as in Ironic): `"{inventory[x]}"`
//! gives `"4"` for 4 and a Python repr for a dict. A string that cannot be formatted (a
//! missing key, a bad field) stays as it was, except that `is-empty` reads a missing key as
//! None.

use serde_json::Value;

use crate::model::inspection_rule::py_str;
use crate::model::node::Node;

use super::fields;

/// What replacement fields can name.
pub(super) struct Context<'a> {
    pub node: &'a Node,
    pub inventory: &'a Value,
    pub plugin_data: &'a Value,
    /// The loop item, when the condition or action loops.
    pub item: Option<&'a Value>,
}

/// Why a string could not be formatted; only `Missing` (Python's KeyError) matters apart.
#[derive(Debug, PartialEq)]
pub(super) enum FormatError {
    Missing,
    Other,
}

/// Python's `str.format(**context)` of `s`.
pub(super) fn format(s: &str, cx: &Context) -> Result<String, FormatError> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        match ch {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                out.push('}');
            }
            // A lone `}` is Python's "Single '}' encountered".
            '}' => return Err(FormatError::Other),
            '{' => {
                // The field runs to its matching `}`; brackets may hold any character but `]`.
                let start = i + 1;
                let mut end = None;
                let mut in_bracket = false;
                for (j, c) in chars.by_ref() {
                    match c {
                        '[' if !in_bracket => in_bracket = true,
                        ']' if in_bracket => in_bracket = false,
                        '}' if !in_bracket => {
                            end = Some(j);
                            break;
                        }
                        '{' if !in_bracket => return Err(FormatError::Other),
                        _ => {}
                    }
                }
                let field = s.get(start..end.ok_or(FormatError::Other)?);
                out.push_str(&py_str(&resolve(field.unwrap_or_default(), cx)?));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A value one level down: Python's attribute (`.name`) or item (`[key]`) access.
enum Step<'f> {
    Attr(&'f str),
    Item(&'f str),
}

/// The value a replacement field names (`node.driver_info[ipmi_address]`,
/// `inventory[interfaces][0][mac_address]`, `item`). Conversions and format specs
/// (`!r`, `:>10`) are not supported and leave the string as it was.
fn resolve(field: &str, cx: &Context) -> Result<Value, FormatError> {
    let name_end = field.find(['.', '[']).unwrap_or(field.len());
    let (name, mut rest) = field.split_at(name_end);
    let mut steps = vec![];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let (attr, tail) = r.split_at(end);
            if attr.is_empty() {
                return Err(FormatError::Other);
            }
            steps.push(Step::Attr(attr));
            rest = tail;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or(FormatError::Other)?;
            let key = r.get(..end).unwrap_or_default();
            if key.is_empty() {
                return Err(FormatError::Other);
            }
            steps.push(Step::Item(key));
            rest = r.get(end + 1..).unwrap_or_default();
        } else {
            // `!r`, `:spec` or junk after a name.
            return Err(FormatError::Other);
        }
    }
    let mut steps = steps.into_iter();
    let mut current: Value = match name {
        // The node is an object: its first step must be an attribute.
        "node" => match steps.next() {
            Some(Step::Attr(a)) => fields::node_get(cx.node, a).ok_or(FormatError::Other)?,
            Some(Step::Item(_)) => return Err(FormatError::Other),
            None => Value::from(format!("Node(uuid={})", cx.node.uuid)),
        },
        "inventory" => cx.inventory.clone(),
        "plugin_data" => cx.plugin_data.clone(),
        "item" => cx.item.cloned().ok_or(FormatError::Missing)?,
        _ => return Err(FormatError::Missing),
    };
    for step in steps {
        current = match step {
            // A dict or a JSON value has no attributes.
            Step::Attr(_) => return Err(FormatError::Other),
            Step::Item(key) => index(&current, key)?,
        };
    }
    Ok(current)
}

/// `value[key]` with Python's rule that an all-digit key is an integer.
fn index(value: &Value, key: &str) -> Result<Value, FormatError> {
    let as_int = key
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| key.parse::<usize>().ok())
        .flatten();
    match (value, as_int) {
        (Value::Object(m), None) => m.get(key).cloned().ok_or(FormatError::Missing),
        // A dict's keys are strings: an integer key is never there.
        (Value::Object(_), Some(_)) => Err(FormatError::Missing),
        (Value::Array(a), Some(i)) => a.get(i).cloned().ok_or(FormatError::Other),
        (Value::String(s), Some(i)) => s
            .chars()
            .nth(i)
            .map(|c| Value::from(c.to_string()))
            .ok_or(FormatError::Other),
        _ => Err(FormatError::Other),
    }
}

/// Ironic's `safe_format`: the formatted string, the string as it was when it cannot be
/// formatted, or None for a missing key under `is-empty`.
fn safe_format(s: &str, cx: &Context, op: &str) -> Value {
    match format(s, cx) {
        Ok(f) => Value::from(f),
        Err(FormatError::Missing) if op == "is-empty" => Value::Null,
        Err(e) => {
            tracing::debug!(value = s, error = ?e, "inspection rule interpolation failed");
            Value::from(s)
        }
    }
}

/// Ironic's `interpolate_variables`: strings formatted (twice in a loop, so a loop item may
/// itself hold replacement fields), dict keys and values and list items recursively.
pub(super) fn interpolate(value: &Value, cx: &Context, op: &str) -> Value {
    match value {
        Value::String(s) => {
            let once = safe_format(s, cx, op);
            match (&once, cx.item.is_some()) {
                (Value::String(f), true) => safe_format(f, cx, op),
                _ => once,
            }
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = py_str(&safe_format(k, cx, op));
                    (key, interpolate(v, cx, op))
                })
                .collect(),
        ),
        // List items that are strings are formatted once, even in a loop, as in Ironic.
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| match v {
                    Value::String(s) => safe_format(s, cx, op),
                    other => interpolate(other, cx, op),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
