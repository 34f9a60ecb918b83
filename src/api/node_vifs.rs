//! `/v1/nodes/{id}/vifs` (1.28): list, attach and detach a node's VIFs, with Ironic's
//! body checks and messages. Which port or portgroup takes a VIF is the conductor's
//! choice (`model::vif`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::find;
use super::views::py_repr;
use super::State;
use crate::model::validate;
use crate::model::vif::Attach;

fn check_version(v: Version) -> Result<(), ApiError> {
    if v.at_least(28) {
        Ok(())
    } else {
        Err(ApiError::unknown_path())
    }
}

/// `GET /v1/nodes/{id}/vifs`
pub async fn list(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_version(v)?;
    let node = find(&state, &path, v).await?;
    let vifs: Vec<Value> = state
        .conductor
        .node_vif_list(node)
        .await?
        .into_iter()
        .map(|id| json!({ "id": id }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "vifs": vifs })))
}

/// `POST /v1/nodes/{id}/vifs`: `{"id": ..., "port_uuid"|"portgroup_uuid": ...}`; any other
/// key is accepted, as Ironic passes it on. `physical_network` (a name or a list) stands
/// in for what Ironic would ask Neutron: the physical networks the VIF's network is on.
pub async fn attach(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_version(v)?;
    let body = super::resource::optional_body(&req, payload, &state)
        .await?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let attach = parse(&body, v)?;
    let node = find(&state, &path, v).await?;
    state.conductor.node_vif_attach(node, attach).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /v1/nodes/{id}/vifs/{vif_id}`
pub async fn detach(
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    check_version(v)?;
    let (ident, vif) = path.into_inner();
    if !uuid_or_name(&vif) {
        return Err(ApiError::expected_uuid_or_name("vif_id", &vif));
    }
    let node = find(&state, &ident, v).await?;
    state.conductor.node_vif_detach(node, vif).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn uuid_or_name(s: &str) -> bool {
    validate::is_uuid_like(s) || validate::is_valid_logical_name(s)
}

/// The attach body, checked as Ironic's VIF schema does.
fn parse(body: &Value, v: Version) -> Result<Attach, ApiError> {
    let schema = |m: String| ApiError::bad_request(format!("Schema error for vif: {m}"));
    let obj = body
        .as_object()
        .ok_or_else(|| schema(format!("{} is not of type 'object'", py_repr(body))))?;
    let id = match obj.get("id") {
        None => return Err(ApiError::required("vif", "id")),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(schema(format!(
                "{} is not of type 'string'",
                py_repr(other)
            )))
        }
    };
    if !uuid_or_name(&id) {
        return Err(ApiError::expected_uuid_or_name("id", &id));
    }
    // Ironic compares these as given: a value that is no string matches no port.
    let text = |key: &str| match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let (port_uuid, portgroup_uuid) = (text("port_uuid"), text("portgroup_uuid"));
    if v.at_least(67) && obj.contains_key("port_uuid") && obj.contains_key("portgroup_uuid") {
        return Err(ApiError::bad_request(
            "Cannot specify both port_uuid and portgroup_uuid",
        ));
    }
    let physnets = match obj.get("physical_network") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(other) => {
            return Err(schema(format!(
                "{} is not a physical network name or a list of them",
                py_repr(other)
            )))
        }
    };
    Ok(Attach {
        id,
        physnets,
        port_uuid,
        portgroup_uuid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: Value, v: u32) -> String {
        parse(&body, Version(v)).unwrap_err().message
    }

    #[test]
    fn bodies_as_ironic_checks_them() {
        assert_eq!(
            msg(json!([]), 28),
            "Schema error for vif: [] is not of type 'object'"
        );
        assert_eq!(
            msg(json!({}), 28),
            "Schema error for vif: 'id' is a required property"
        );
        assert_eq!(
            msg(json!({"id": 5}), 28),
            "Schema error for vif: 5 is not of type 'string'"
        );
        assert_eq!(
            msg(json!({"id": "a b"}), 28),
            "Expected UUID or name for id: a b"
        );
        let both = json!({"id": "x", "port_uuid": "a", "portgroup_uuid": "b"});
        assert_eq!(
            msg(both.clone(), 67),
            "Cannot specify both port_uuid and portgroup_uuid"
        );
        let a = parse(&both, Version(66)).unwrap();
        assert_eq!(a.port_uuid.as_deref(), Some("a"), "below 1.67 both pass");
        let a = parse(
            &json!({"id": "x", "physical_network": ["p1", "p2"], "other": 1}),
            Version(28),
        )
        .unwrap();
        assert_eq!(a.physnets, vec!["p1", "p2"]);
        assert!(msg(json!({"id": "x", "physical_network": 5}), 28).contains("physical network"));
    }
}
