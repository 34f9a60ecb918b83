//! JSON Patch (RFC 6902) as Ironic applies it: only add/replace/remove, only allow-listed
//! root attributes, fields newer than the request's microversion → 406, and the patched
//! document handed back with the list of root attributes that changed.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::views::py_repr;
use crate::model::secrets;

/// An operation as an error echoes it: py_repr masks secret keys inside `value`, but a
/// value patched at a secret path (`/driver_info/ipmi_password`) has no key of its own to
/// judge, so it is echoed opaque.
fn op_repr(op: &Value) -> String {
    let secret_path = op.get("path").and_then(Value::as_str).is_some_and(|p| {
        p.split('/').any(secrets::is_secret_key) || p.starts_with("/instance_info/image_url")
    });
    let mut shown = op.clone();
    if let (true, Some(o)) = (secret_path, shown.as_object_mut()) {
        if let Some(v) = o.get_mut("value") {
            *v = secrets::opaque(v);
        }
    }
    py_repr(&shown)
}

/// Validate the patch document against Ironic's patch schema.
fn check_schema(ops: &Value) -> Result<&Vec<Value>, ApiError> {
    let err = |m: String| ApiError::bad_request(format!("Schema error for patch: {m}"));
    let list = ops
        .as_array()
        .ok_or_else(|| err(format!("{} is not of type 'array'", op_repr(ops))))?;
    for op in list {
        let o = op
            .as_object()
            .ok_or_else(|| err(format!("{} is not of type 'object'", py_repr(op))))?;
        for k in o.keys() {
            if !matches!(k.as_str(), "op" | "path" | "value") {
                return Err(err(format!(
                    "Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
        }
        let name = o
            .get("op")
            .ok_or_else(|| err("'op' is a required property".into()))?;
        if !matches!(name.as_str(), Some("add" | "replace" | "remove")) {
            return Err(err(format!(
                "{} is not one of ['add', 'replace', 'remove']",
                py_repr(name)
            )));
        }
        let path = o
            .get("path")
            .ok_or_else(|| err("'path' is a required property".into()))?;
        let path = path
            .as_str()
            .ok_or_else(|| err(format!("{} is not of type 'string'", py_repr(path))))?;
        if !path.starts_with('/') {
            return Err(err(format!("'{path}' does not match '^(/[\\\\w-]+)+$'")));
        }
        if name != "remove" && !o.contains_key("value") {
            return Err(err("'value' is a required property".into()));
        }
    }
    Ok(list)
}

/// The root attribute a JSON pointer addresses (`/driver_info/x` → `driver_info`).
fn root_of(path: &str) -> String {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    first.replace("~1", "/").replace("~0", "~")
}

/// Apply `ops` to `doc` (the resource as the client sees it at its version).
/// `allowed` is Ironic's list of patchable roots; `visible` says whether a root exists at
/// the request's microversion. Returns the new document and the roots that changed.
pub fn apply(
    doc: Map<String, Value>,
    ops: &Value,
    allowed: &[&str],
    visible: impl Fn(&str) -> bool,
) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
    let list = check_schema(ops)?;
    for op in list {
        let path = op["path"].as_str().unwrap_or_default();
        let root = root_of(path);
        if !allowed.contains(&root.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Cannot patch {path}. Only the following can be updated: {}",
                allowed.join(", ")
            )));
        }
        if !visible(&root) {
            return Err(ApiError::not_acceptable());
        }
    }
    let before = doc.clone();
    let mut value = Value::Object(doc);
    for op in list {
        let one: json_patch::Patch = serde_json::from_value(Value::Array(vec![op.clone()]))
            .map_err(|e| {
                ApiError::bad_request(format!("Invalid patch operation {}: {e}", op_repr(op)))
            })?;
        json_patch::patch(&mut value, &one).map_err(|e| {
            ApiError::bad_request(format!(
                "Couldn't apply patch '{}'. Reason: {}",
                op_repr(op),
                reason(&e)
            ))
        })?;
    }
    let Value::Object(after) = value else {
        return Err(ApiError::bad_request(
            "Patch replaced the whole resource; patch individual attributes instead.",
        ));
    };
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    changed.extend(before.keys().filter(|k| !after.contains_key(*k)).cloned());
    Ok((after, changed))
}

fn reason(e: &json_patch::PatchError) -> String {
    let text = e.to_string();
    // Keep only the cause, without the crate's "operation '/0'" prefix.
    match text.split_once(": ") {
        Some((_, why)) if text.starts_with("operation") => why.to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Map<String, Value> {
        json!({"name": "a", "extra": {"k": 1}, "uuid": "u"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn applies_and_reports_changes() {
        let ops = json!([{"op": "add", "path": "/extra/x", "value": 2}, {"op": "remove", "path": "/name"}]);
        let (after, changed) = apply(doc(), &ops, &["name", "extra"], |_| true).unwrap();
        assert_eq!(after["extra"], json!({"k": 1, "x": 2}));
        assert!(!after.contains_key("name"));
        assert_eq!(changed.len(), 2);
    }

    #[test]
    fn refuses_what_ironic_refuses() {
        let cases = [
            (json!({"op": "add"}), "is not of type 'array'"),
            (
                json!([{"op": "move", "path": "/name", "from": "/x"}]),
                "Additional properties",
            ),
            (json!([{"op": "frob", "path": "/name"}]), "is not one of"),
            (
                json!([{"op": "replace", "path": "/name"}]),
                "'value' is a required property",
            ),
            (
                json!([{"op": "replace", "path": "/uuid", "value": "x"}]),
                "Cannot patch /uuid",
            ),
            (
                json!([{"op": "remove", "path": "/extra/nope"}]),
                "Couldn't apply patch",
            ),
            (json!([{"path": "/name"}]), "'op' is a required property"),
        ];
        for (ops, msg) in cases {
            let e = apply(doc(), &ops, &["name", "extra"], |_| true).unwrap_err();
            assert!(e.message.contains(msg), "{ops}: {}", e.message);
            assert_eq!(e.status.as_u16(), 400);
        }
        // An echoed operation never shows a secret it carried.
        for ops in [
            json!({"op": "add", "path": "/extra/ipmi_password", "value": "hunter2"}),
            json!([{"op": "replace", "path": "/extra/nope/ipmi_password", "value": "hunter2"}]),
            json!([{"op": "replace", "path": "/extra/nope/x", "value": {"token": "hunter2"}}]),
        ] {
            let e = apply(doc(), &ops, &["name", "extra"], |_| true).unwrap_err();
            assert!(!e.message.contains("hunter2"), "{}", e.message);
            assert!(e.message.contains("******"), "{}", e.message);
        }
        let e = apply(
            doc(),
            &json!([{"op": "replace", "path": "/name", "value": "b"}]),
            &["name"],
            |_| false,
        )
        .unwrap_err();
        assert_eq!(e.status.as_u16(), 406);
    }
}
