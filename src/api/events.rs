//! `POST /v1/events` (1.54): external network events (Neutron's port bind, unbind and
//! delete notifications), checked against Ironic's JSON schema with its messages,
//! then accepted (204), logged and counted. Like Ironic, nothing else acts on them yet.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::views::py_repr;
use super::State;
use crate::model::validate;

/// Ironic's event types, in its schema's order (the enum message lists them so).
const EVENT_TYPES: [&str; 3] = [
    "network.bind_port",
    "network.unbind_port",
    "network.delete_port",
];

pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(54) {
        return Err(ApiError::unsupported_version());
    }
    let body = super::resource::optional_body(&req, payload, &state)
        .await?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let events = check(&body).map_err(|e| ApiError::bad_request(format!("Schema error: {e}")))?;
    for e in events {
        let kind = e.get("event").and_then(Value::as_str).unwrap_or_default();
        let kind = EVENT_TYPES
            .into_iter()
            .find(|t| *t == kind)
            .unwrap_or("other");
        crate::metrics::external_event(kind);
        // The fields are ids, a MAC and a status: nothing secret, and all checked above.
        let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let (port_id, mac, status, device) = (
            field("port_id"),
            field("mac_address"),
            field("status"),
            field("device_id"),
        );
        tracing::info!(
            event = kind,
            port_id,
            mac_address = mac,
            status,
            device_id = device,
            "external event received"
        );
    }
    Ok(HttpResponse::NoContent().finish())
}

/// One schema violation: how deep in the document, and jsonschema's message.
type Violation = (usize, String);

/// Check `body` against Ironic's events schema. Like jsonschema's `best_match`, the
/// deepest violation is reported, the first found among equally deep ones.
fn check(body: &Value) -> Result<&Vec<Value>, String> {
    let Some(obj) = body.as_object() else {
        return Err(format!("{} is not of type 'object'", py_repr(body)));
    };
    let mut found: Vec<Violation> = vec![];
    match obj.get("events") {
        None => {}
        Some(Value::Array(items)) => {
            if items.is_empty() {
                found.push((1, "[] should be non-empty".into()));
            }
            for item in items {
                check_event(item, &mut found);
            }
        }
        Some(other) => found.push((1, format!("{} is not of type 'array'", py_repr(other)))),
    }
    if !obj.contains_key("events") {
        found.push((0, "'events' is a required property".into()));
    }
    if let Some(extra) = unexpected(obj, &["events"]) {
        found.push((0, extra));
    }
    let deepest = found.iter().map(|(d, _)| *d).max();
    match found.into_iter().find(|(d, _)| Some(*d) == deepest) {
        Some((_, message)) => Err(message),
        None => match obj.get("events") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err("'events' is a required property".into()),
        },
    }
}

fn check_event(item: &Value, found: &mut Vec<Violation>) {
    let Some(e) = item.as_object() else {
        found.push((2, format!("{} is not of type 'object'", py_repr(item))));
        return;
    };
    let not_string = |v: &Value, nullable: bool| {
        let types = if nullable {
            "'string', 'null'"
        } else {
            "'string'"
        };
        format!("{} is not of type {types}", py_repr(v))
    };
    // (property, nullable, format check) in the schema's order.
    type Format = fn(&str) -> Option<&'static str>;
    let uuid: Format = |s| (!validate::is_uuid_like(s)).then_some("uuid");
    let mac: Format = |s| (!is_mac(s)).then_some("mac-address");
    let props: [(&str, bool, Option<Format>); 7] = [
        ("event", false, None),
        ("port_id", false, Some(uuid)),
        ("mac_address", false, Some(mac)),
        ("status", false, None),
        ("device_id", true, Some(uuid)),
        ("binding:host_id", true, Some(uuid)),
        ("binding:vnic_type", true, None),
    ];
    for (key, nullable, format) in props {
        let Some(v) = e.get(key) else { continue };
        match v {
            Value::Null if nullable => {}
            Value::String(s) => {
                if key == "event" && !EVENT_TYPES.contains(&s.as_str()) {
                    found.push((
                        3,
                        format!(
                            "{} is not one of ['{}']",
                            py_repr(v),
                            EVENT_TYPES.join("', '")
                        ),
                    ));
                } else if let Some(name) = format.and_then(|f| f(s)) {
                    found.push((3, format!("{} is not a '{name}'", py_repr(v))));
                }
            }
            other => found.push((3, not_string(other, nullable))),
        }
    }
    for key in ["event", "port_id", "mac_address", "status"] {
        if !e.contains_key(key) {
            found.push((2, format!("'{key}' is a required property")));
        }
    }
    let allowed: Vec<&str> = props.iter().map(|(k, ..)| *k).collect();
    if let Some(extra) = unexpected(e, &allowed) {
        found.push((2, extra));
    }
}

/// jsonschema's additionalProperties message, if `obj` has keys beyond `allowed`.
fn unexpected(obj: &Map<String, Value>, allowed: &[&str]) -> Option<String> {
    let extra: Vec<String> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| py_repr(&Value::String(k.clone())))
        .collect();
    match extra.as_slice() {
        [] => None,
        [one] => Some(format!(
            "Additional properties are not allowed ({one} was unexpected)"
        )),
        many => Some(format!(
            "Additional properties are not allowed ({} were unexpected)",
            many.join(", ")
        )),
    }
}

/// Six colon-separated pairs of hex digits (what Ironic's `mac-address` format takes).
fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const U: &str = "363e6e44-36b5-4d6a-a5e5-3f3a4c3a6c0a";

    fn event() -> Value {
        json!({"event": "network.bind_port", "port_id": U, "mac_address": "52:54:00:12:34:56", "status": "ACTIVE"})
    }

    fn err(body: Value) -> String {
        check(&body).unwrap_err()
    }

    #[test]
    fn good_events_pass() {
        let mut full = event();
        full["device_id"] = json!(U);
        full["binding:host_id"] = Value::Null;
        full["binding:vnic_type"] = json!("baremetal");
        assert_eq!(check(&json!({"events": [event(), full]})).unwrap().len(), 2);
    }

    #[test]
    fn messages_are_ironics() {
        // Each as Ironic 39 answered the same body.
        assert_eq!(err(json!([])), "[] is not of type 'object'");
        assert_eq!(err(json!({})), "'events' is a required property");
        assert_eq!(err(json!({"x": 1})), "'events' is a required property");
        assert_eq!(err(json!({"events": []})), "[] should be non-empty");
        assert_eq!(err(json!({"events": [], "x": 1})), "[] should be non-empty");
        assert_eq!(err(json!({"events": {}})), "{} is not of type 'array'");
        assert_eq!(err(json!({"events": [5]})), "5 is not of type 'object'");
        assert_eq!(
            err(json!({"events": [{}]})),
            "'event' is a required property"
        );
        assert_eq!(
            err(json!({"events": [event()], "x": 1})),
            "Additional properties are not allowed ('x' was unexpected)"
        );
        let mut e = event();
        e["port_id"] = json!("nope");
        e["mac_address"] = json!("zz");
        e["q"] = json!(1);
        assert_eq!(err(json!({"events": [e]})), "'nope' is not a 'uuid'");
        assert_eq!(
            err(json!({"events": [{"event": "bad", "port_id": "nope"}]})),
            "'bad' is not one of ['network.bind_port', 'network.unbind_port', 'network.delete_port']"
        );
        let mut e = event();
        e["device_id"] = json!(5);
        assert_eq!(
            err(json!({"events": [e]})),
            "5 is not of type 'string', 'null'"
        );
        let mut e = event();
        e["mac_address"] = json!("52-54-00-12-34-56");
        assert_eq!(
            err(json!({"events": [e]})),
            "'52-54-00-12-34-56' is not a 'mac-address'"
        );
        let mut e = event();
        e["status"] = json!(5);
        assert_eq!(err(json!({"events": [e]})), "5 is not of type 'string'");
        assert_eq!(
            err(json!({"events": [event(), {"event": "x"}]})),
            "'x' is not one of ['network.bind_port', 'network.unbind_port', 'network.delete_port']"
        );
    }
}
