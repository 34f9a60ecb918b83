//! The `redfish` vendor interface: Redfish event subscriptions through vendor passthru
//! (Metal3's BMCEventSubscription), as Ironic's RedfishVendorPassthru: create, list, get
//! and delete entries of the BMC's EventService Subscriptions. `HttpHeaders` may carry
//! credentials of the receiver: they go to the BMC only, never into answers or logs.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::*;

pub struct RedfishVendor;

/// What an answer about a subscription shows (Ironic's SUBSCRIPTION_COMMON_FIELDS).
const SHOWN: &[&str] = &["Id", "Context", "Protocol", "Destination", "EventTypes"];

fn invalid(m: String) -> DriverError {
    DriverError::InvalidParameterValue(m)
}

fn link(v: &Value, key: &str) -> Option<String> {
    field(v, key)["@odata.id"].as_str().map(str::to_string)
}

/// (EventService JSON, Subscriptions collection path).
async fn event_service(ctx: &TaskContext<'_>, c: &Client) -> Result<(Value, String), DriverError> {
    let root = c.get(&c.endpoint().root).await.map_err(bmc_err)?;
    let missing = || {
        DriverError::Failed(format!(
            "The BMC of node {} has no Redfish EventService with subscriptions",
            ctx.node.uuid
        ))
    };
    let path = link(&root, "EventService").ok_or_else(missing)?;
    let service = c.get(&path).await.map_err(bmc_err)?;
    let subs = link(&service, "Subscriptions").ok_or_else(missing)?;
    Ok((service, subs))
}

fn shown(sub: &Value) -> Value {
    let mut out = Map::new();
    for k in SHOWN {
        if let Some(v) = sub.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn destination_ok(d: &str) -> bool {
    match reqwest::Url::parse(d) {
        Ok(u) => u.has_host() && matches!(u.scheme(), "http" | "https"),
        Err(_) => false,
    }
}

/// The member path of subscription `id`; an id that is not one path segment is refused
/// (it would name another resource on the BMC).
fn member(subs: &str, id: &Value) -> Result<String, DriverError> {
    let id = match id {
        Value::String(s) if !s.is_empty() => s.as_str(),
        Value::Null => return Err(invalid("id can't be None".into())),
        other => {
            return Err(invalid(format!(
                "id {other} is not a valid subscription id"
            )))
        }
    };
    if id.contains('/') || id == ".." || id == "." || id.contains('?') || id.contains('#') {
        return Err(invalid(format!("id {id} is not a valid subscription id")));
    }
    let sep = if subs.ends_with('/') { "" } else { "/" };
    Ok(format!("{subs}{sep}{id}"))
}

async fn create(ctx: &TaskContext<'_>, args: &Map<String, Value>) -> Result<Value, DriverError> {
    let destination = match args.get("Destination") {
        Some(Value::String(d)) if destination_ok(d) => d.clone(),
        other => {
            let shown = other.map_or("None".to_string(), |v| match v {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            });
            return Err(invalid(format!("Destination {shown} is not a valid URI")));
        }
    };
    let context = match args.get("Context") {
        None => Value::String(String::new()),
        Some(v @ Value::String(_)) => v.clone(),
        Some(v) => return Err(invalid(format!("Context {v} is not a valid string"))),
    };
    let protocol = match args.get("Protocol") {
        None => Value::String("Redfish".into()),
        Some(v @ Value::String(_)) => v.clone(),
        Some(v) => return Err(invalid(format!("Protocol {v} is not a string"))),
    };
    let headers = match args.get("HttpHeaders") {
        None | Some(Value::Null) => None,
        Some(Value::Array(h)) if h.iter().all(Value::is_object) => Some(h.clone()),
        // The value may hold secrets: it is not repeated.
        Some(_) => {
            return Err(invalid(
                "HttpHeaders is not a list of headers (objects of name and value)".into(),
            ))
        }
    };
    let c = client(ctx)?;
    let (service, subs) = event_service(ctx, &c).await?;
    let event_types = match args.get("EventTypes") {
        None => json!(["Alert"]),
        Some(v) => {
            let allowed: Vec<&str> = field(&service, "EventTypesForSubscription")
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let ok = v.as_array().is_some_and(|l| {
                l.iter().all(|t| {
                    t.as_str()
                        .is_some_and(|t| allowed.is_empty() || allowed.contains(&t))
                })
            });
            if !ok {
                return Err(invalid(format!(
                    "EventTypes {v} is not a valid value, allowed values {allowed:?}"
                )));
            }
            v.clone()
        }
    };
    let mut payload = json!({"Destination": destination, "Protocol": protocol,
                             "Context": context, "EventTypes": event_types});
    if let (Some(h), Some(o)) = (headers.filter(|h| !h.is_empty()), payload.as_object_mut()) {
        o.insert("HttpHeaders".into(), Value::Array(h));
    }
    let failed = |e: RedfishError| {
        DriverError::Failed(format!(
            "Failed to create subscription on node {}. Error: {e}",
            ctx.node.uuid
        ))
    };
    let answer = c
        .exchange(Method::POST, &subs, Some(&payload))
        .await
        .map_err(failed)?;
    let created = match (answer.body, answer.location) {
        (Some(b), _) if b.get("Id").is_some() => b,
        (_, Some(loc)) => c.get(&loc).await.map_err(failed)?,
        _ => {
            return Err(DriverError::Failed(format!(
                "Failed to create subscription on node {}: the BMC named no new subscription",
                ctx.node.uuid
            )))
        }
    };
    Ok(shown(&created))
}

#[async_trait]
impl StepInterface for RedfishVendor {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
}

#[async_trait]
impl VendorInterface for RedfishVendor {
    fn methods(&self) -> Vec<VendorMethod> {
        vec![
            VendorMethod {
                name: "create_subscription",
                http_methods: &["POST"],
                is_async: false,
                description: "Creates a subscription on a node. Required argument: a dictionary of {'Destination': 'destination_url'}",
            },
            VendorMethod {
                name: "delete_subscription",
                http_methods: &["DELETE"],
                is_async: false,
                description: "Delete a subscription on a node. Required argument: a dictionary of {'id': 'subscription_bmc_id'}",
            },
            VendorMethod {
                name: "get_subscriptions",
                http_methods: &["GET"],
                is_async: false,
                description: "Returns all subscriptions on the node.",
            },
            VendorMethod {
                name: "get_subscription",
                http_methods: &["GET"],
                is_async: false,
                description: "Get a subscription on the node. Required argument: a dictionary of {'id': 'subscription_bmc_id'}",
            },
        ]
    }

    async fn call(
        &self,
        ctx: &mut TaskContext<'_>,
        method: &str,
        args: Value,
    ) -> Result<Value, DriverError> {
        let args = match args {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        let node = ctx.node.uuid.clone();
        match method {
            "create_subscription" => create(ctx, &args).await,
            "get_subscriptions" => {
                let c = client(ctx)?;
                let (_, subs) = event_service(ctx, &c).await?;
                c.get(&subs).await.map_err(|e| {
                    DriverError::Failed(format!(
                        "Redfish get_subscriptions failed for node {node}. Error: {e}"
                    ))
                })
            }
            "get_subscription" | "delete_subscription" => {
                let id = args.get("id").cloned().unwrap_or(Value::Null);
                if method == "delete_subscription" && id.as_str() == Some("") {
                    return Err(invalid("id can't be None".into()));
                }
                let c = client(ctx)?;
                let (_, subs) = event_service(ctx, &c).await?;
                let path = member(&subs, &id)?;
                if method == "get_subscription" {
                    let sub = c.get(&path).await.map_err(|e| {
                        DriverError::Failed(format!(
                            "Redfish get_subscription failed for subscription {id} on node {node}. Error: {e}"
                        ))
                    })?;
                    return Ok(shown(&sub));
                }
                c.request(Method::DELETE, &path, None).await.map_err(|e| {
                    DriverError::Failed(format!(
                        "Redfish delete_subscription failed for subscription {id} on node {node}. Error: {e}"
                    ))
                })?;
                Ok(Value::Null)
            }
            other => Err(invalid(format!(
                "Unsupported method ({other}) passed through to vendor extension."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_ids_are_one_path_segment() {
        let subs = "/redfish/v1/EventService/Subscriptions";
        assert_eq!(
            member(subs, &json!("7")).unwrap(),
            "/redfish/v1/EventService/Subscriptions/7"
        );
        assert_eq!(
            member(&format!("{subs}/"), &json!("7")).unwrap(),
            "/redfish/v1/EventService/Subscriptions/7"
        );
        for bad in [
            json!("../../Systems/1"),
            json!(".."),
            json!(3),
            json!("a?b"),
        ] {
            assert!(member(subs, &bad).is_err(), "{bad}");
        }
        assert_eq!(
            member(subs, &Value::Null).unwrap_err().to_string(),
            DriverError::InvalidParameterValue("id can't be None".into()).to_string()
        );
    }

    #[test]
    fn only_common_fields_are_shown() {
        let s = json!({"Id": "1", "Destination": "https://x", "Context": "c",
                       "Protocol": "Redfish", "EventTypes": ["Alert"],
                       "HttpHeaders": [{"Authorization": "secret"}], "Oem": {}});
        assert_eq!(
            shown(&s),
            json!({"Id": "1", "Destination": "https://x", "Context": "c",
                   "Protocol": "Redfish", "EventTypes": ["Alert"]})
        );
        assert!(destination_ok("https://hooks.example.com/events"));
        assert!(!destination_ok("not a url"));
        assert!(!destination_ok("ftp://x/y"));
    }
}
