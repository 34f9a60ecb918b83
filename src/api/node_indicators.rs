//! `/v1/nodes/{id}/management/indicators[/{name@component}]`: list a node's hardware
//! indicators (LEDs), read one, set one. Ironic serves these at every microversion
//! (its controller has no version check), and so does ironbox.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::find;
use super::params::Query;
use super::{base_url, State};

/// `GET .../management/indicators`: each with links built on the node ident as given,
/// as Ironic builds them.
pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = find(&state, &path, v).await?;
    let base = base_url(&req, &state);
    let items: Vec<Value> = state
        .conductor
        .node_indicators(node)
        .await?
        .iter()
        .map(|i| {
            let name = i.unique_name();
            let at = format!("nodes/{}/management/indicators/{name}", path.as_str());
            json!({
                "name": name,
                "component": i.component,
                "readonly": i.readonly,
                "states": i.states,
                "links": [
                    {"href": format!("{base}/v1/{at}"), "rel": "self"},
                    {"href": format!("{base}/{at}"), "rel": "bookmark"},
                ],
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "indicators": items })))
}

/// `GET .../management/indicators/{name@component}`
pub async fn get(
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (ident, indicator) = path.into_inner();
    let node = find(&state, &ident, v).await?;
    let s = state
        .conductor
        .node_indicator_state(node, &indicator)
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "state": s })))
}

/// `PUT .../management/indicators/{name@component}` with `state` in the body (or the
/// query, as Ironic's framework also reads it).
pub async fn set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (ident, indicator) = path.into_inner();
    let body = super::resource::optional_body(&req, payload, &state).await?;
    let q = Query::parse(&req)?;
    let mut wanted = q.get("state").map(|s| Value::String(s.to_string()));
    if let Some(body) = &body {
        let obj = body
            .as_object()
            .ok_or_else(|| ApiError::bad_request("Invalid request body: expected an object"))?;
        let extra: Vec<&str> = obj
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "state")
            .collect();
        if !extra.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Unexpected arguments: {}",
                extra.join(", ")
            )));
        }
        if let Some(s) = obj.get("state") {
            wanted = Some(s.clone());
        }
    }
    let wanted = match wanted {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("Missing mandatory parameter: state"))
        }
        Some(Value::String(s)) => s,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Expected string for state: {other}"
            )))
        }
    };
    let node = find(&state, &ident, v).await?;
    state
        .conductor
        .node_set_indicator_state(node, &indicator, &wanted)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
