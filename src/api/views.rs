//! Response building blocks shared by every resource: links, field selection, and typed
//! readers for request fields that fail with Ironic's schema messages (which echo what was
//! submitted masked: `model::secrets` decides what is a secret).

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::model::secrets::{masked, opaque};
use crate::model::JsonObject;

/// `self` and `bookmark` links for `<base>/v1/<path>` and `<base>/<path>`.
pub fn links(base: &str, path: &str) -> Value {
    Links {
        base,
        path: &[path],
    }
    .value()
}

/// `self` + `bookmark` links, the one link builder: written straight into a response (node
/// views) or made a value; `path` parts are joined.
pub struct Links<'a> {
    pub base: &'a str,
    pub path: &'a [&'a str],
}

impl Links<'_> {
    pub fn value(&self) -> Value {
        // Two string maps: serializing them to a Value cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl serde::Serialize for Links<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Link<'b>(&'b str, &'b str);
        impl serde::Serialize for Link<'_> {
            fn serialize<S2: serde::Serializer>(&self, s: S2) -> Result<S2::Ok, S2::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("href", self.0)?;
                m.serialize_entry("rel", self.1)?;
                m.end()
            }
        }
        let path: String = self.path.concat();
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&Link(&format!("{}/v1/{path}", self.base), "self"))?;
        seq.serialize_element(&Link(&format!("{}/{path}", self.base), "bookmark"))?;
        seq.end()
    }
}

/// Keep only `fields` (plus `links`, which Ironic always adds) of a full object.
pub fn select(mut full: Map<String, Value>, fields: &[String]) -> Value {
    let mut out = Map::new();
    for f in fields {
        if let Some(v) = full.remove(f) {
            out.insert(f.clone(), v);
        }
    }
    if let Some(l) = full.remove("links") {
        out.insert("links".into(), l);
    }
    Value::Object(out)
}

/// Python's repr of a JSON value, as Ironic's schema errors print it, with its secrets
/// masked (an error must not echo a password the client sent).
pub fn py_repr(v: &Value) -> String {
    repr(&masked(v))
}

fn repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => format!("[{}]", a.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Typed readers for one request field of resource `res` (for messages like
/// "Schema error for node: 5 is not of type 'string'").
pub struct Reader<'a> {
    pub res: &'a str,
}

impl Reader<'_> {
    fn type_err(&self, v: &Value, types: &str) -> ApiError {
        ApiError::bad_request(format!(
            "Schema error for {}: {} is not of type {types}",
            self.res,
            py_repr(v)
        ))
    }

    pub fn opt_str(&self, v: &Value, max: usize) -> Result<Option<String>, ApiError> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
            Value::String(_) => Err(ApiError::bad_request(format!(
                "Schema error for {}: {} is too long",
                self.res,
                py_repr(v)
            ))),
            _ => Err(self.type_err(v, "'string', 'null'")),
        }
    }

    pub fn str(&self, v: &Value, max: usize) -> Result<String, ApiError> {
        match v {
            Value::String(s) if s.chars().count() <= max => Ok(s.clone()),
            Value::String(_) => Err(ApiError::bad_request(format!(
                "Schema error for {}: {} is too long",
                self.res,
                py_repr(v)
            ))),
            _ => Err(self.type_err(v, "'string'")),
        }
    }

    /// A string that is itself a secret (`rescue_password`): a wrong type is echoed masked.
    pub fn secret_str(&self, v: &Value) -> Result<String, ApiError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.type_err(&opaque(v), "'string'")),
        }
    }

    /// Booleans: JSON true/false, or a string in strutils' strict spellings (the
    /// `baremetal` CLI sends "True"/"False"), as Ironic accepts.
    pub fn bool(&self, key: &str, v: &Value) -> Result<bool, ApiError> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) => super::params::parse_bool(key, s),
            _ => Err(self.type_err(v, "'string', 'boolean'")),
        }
    }

    /// A boolean whose null means the field's `default`.
    pub fn bool_or(&self, key: &str, v: &Value, default: bool) -> Result<bool, ApiError> {
        Ok(self.opt_bool(key, v)?.unwrap_or(default))
    }

    pub fn opt_bool(&self, key: &str, v: &Value) -> Result<Option<bool>, ApiError> {
        match v {
            Value::Null => Ok(None),
            other => self.bool(key, other).map(Some),
        }
    }

    /// JSON object fields: null means empty. These hold secrets (`driver_info`, `extra`),
    /// so a wrong-typed value is echoed with its strings and numbers masked.
    pub fn obj(&self, v: &Value) -> Result<JsonObject, ApiError> {
        match v {
            Value::Null => Ok(JsonObject::new()),
            Value::Object(o) => Ok(o.clone()),
            _ => Err(self.type_err(&opaque(v), "'object', 'null'")),
        }
    }

    pub fn opt_uuid(&self, key: &str, v: &Value) -> Result<Option<String>, ApiError> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => crate::model::validate::normalize_uuid(s)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("Expected UUID for {key}: {s}"))),
            _ => Err(self.type_err(v, "'string', 'null'")),
        }
    }

    pub fn opt_mac(&self, key: &str, v: &Value) -> Result<Option<String>, ApiError> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => mac(key, s).map(Some),
            _ => Err(self.type_err(v, "'string', 'null'")),
        }
    }

    pub fn unexpected(&self, key: &str) -> ApiError {
        ApiError::unexpected(self.res, key)
    }

    pub fn required(&self, key: &str) -> ApiError {
        ApiError::required(self.res, key)
    }

    pub fn not_object(&self, v: &Value) -> ApiError {
        self.type_err(v, "'object'")
    }

    pub fn array<'v>(&self, v: &'v Value) -> Result<&'v Vec<Value>, ApiError> {
        v.as_array().ok_or_else(|| self.type_err(v, "'array'"))
    }
}

pub fn mac(key: &str, s: &str) -> Result<String, ApiError> {
    // Ironic accepts only the colon form; lower-case is how it is stored and compared.
    crate::model::mac::Mac::parse_strict(s)
        .filter(|_| !s.contains('-'))
        .map(|m| m.to_string())
        .ok_or_else(|| ApiError::bad_request(format!("Expected valid MAC address for {key}: {s}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_echo_submitted_values_masked() {
        assert_eq!(
            py_repr(&json!({"ipmi_password": "hunter2", "a": "http://u:p@h"})),
            "{'a': 'http://u:******@h', 'ipmi_password': '******'}"
        );
        let e = Reader { res: "node" }
            .obj(&json!("{\"ipmi_password\": \"hunter2\"}"))
            .unwrap_err();
        assert_eq!(
            e.message,
            "Schema error for node: '******' is not of type 'object', 'null'"
        );
        let e = Reader { res: "node" }
            .obj(&json!([{"x": "hunter2"}, 5, true]))
            .unwrap_err();
        assert!(
            !e.message.contains("hunter2") && e.message.contains("True"),
            "{}",
            e.message
        );
    }

    #[test]
    fn python_repr() {
        assert_eq!(
            py_repr(&json!({"a": [1, true, null, "x'y"]})),
            r"{'a': [1, True, None, 'x\'y']}"
        );
    }
}
