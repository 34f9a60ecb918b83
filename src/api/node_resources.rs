//! A node's sub-resources: traits, history, inventory, children (BIOS settings and
//! firmware are in `node_hardware`).

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::find;
use super::params::{ListParams, Query};
use super::views::{py_repr, Reader};
use super::{base_url, State};
use crate::db::{NodeFilter, Page};
use crate::model::validate;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

pub(super) fn check_trait(t: &str, res: &str) -> Result<(), ApiError> {
    if validate::is_valid_trait(t) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "Schema error for {res}: {} is not valid under any of the given schemas. Possible root cause: {} does not match '^CUSTOM_[A-Z0-9_]+$'",
        py_repr(&json!(t)), py_repr(&json!(t))
    )))
}

/// A body's `traits`: a list of valid trait names, duplicates dropped (order kept).
pub(super) fn trait_list(list: &Value) -> Result<Vec<String>, ApiError> {
    let arr = list.as_array().ok_or_else(|| {
        ApiError::bad_request(format!(
            "Schema error for body: {} is not of type 'array'",
            py_repr(list)
        ))
    })?;
    let mut traits: Vec<String> = Vec::new();
    for t in arr {
        let s = t.as_str().ok_or_else(|| {
            ApiError::bad_request(format!(
                "Schema error for body: {} is not of type 'string'",
                py_repr(t)
            ))
        })?;
        check_trait(s, "body")?;
        if !traits.iter().any(|x| x == s) {
            traits.push(s.to_string());
        }
    }
    Ok(traits)
}

pub async fn traits_get(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let n = find(&state, &path, v).await?;
    Ok(HttpResponse::Ok().json(json!({ "traits": n.traits })))
}

pub async fn traits_set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let body = super::resource::body(&req, payload, &state).await?;
    let r = Reader { res: "body" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    if let Some(k) = obj.keys().find(|k| *k != "traits") {
        return Err(r.unexpected(k));
    }
    let list = obj.get("traits").ok_or_else(|| r.required("traits"))?;
    if list
        .as_array()
        .is_some_and(|a| a.len() > crate::conductor::MAX_TRAITS)
    {
        return Err(ApiError::bad_request(format!(
            "Schema error for body: {} is too long",
            py_repr(list)
        )));
    }
    let traits = trait_list(list)?;
    let n = find(&state, &path, v).await?;
    state.conductor.node_set_traits(&n, traits).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn trait_add(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::resource::optional_body(&req, payload, &state).await?;
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let (ident, t) = path.into_inner();
    check_trait(&t, "trait")?;
    let n = find(&state, &ident, v).await?;
    state.conductor.node_add_trait(&n, t.clone()).await?;
    let base = base_url(&req, &state);
    Ok(HttpResponse::NoContent()
        .insert_header(("Location", format!("{base}/v1/nodes/{}/traits/{t}", n.uuid)))
        .finish())
}

pub async fn traits_delete(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::resource::optional_body(&req, payload, &state).await?;
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let n = find(&state, &path, v).await?;
    state.conductor.node_remove_trait(&n, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn trait_delete(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::resource::optional_body(&req, payload, &state).await?;
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let (ident, t) = path.into_inner();
    let n = find(&state, &ident, v).await?;
    state.conductor.node_remove_trait(&n, Some(t)).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn history_view(
    e: &crate::model::history::HistoryEvent,
    v: Version,
    base: &str,
    detail: bool,
) -> Value {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(e.uuid));
    m.insert("created_at".into(), json!(e.created_at));
    m.insert("severity".into(), json!(e.severity));
    // Events quote errors; rows written before masking moved to the store may hold a URL
    // password.
    m.insert(
        "event".into(),
        json!(crate::model::secrets::mask_text(&e.event)),
    );
    if detail {
        m.insert("event_type".into(), json!(e.event_type));
        m.insert("conductor".into(), json!(e.conductor));
        m.insert("user".into(), json!(e.user));
        if v.at_least(113) {
            m.insert("project".into(), Value::Null);
        }
        if v.at_least(115) {
            m.insert("state".into(), json!(e.state));
            m.insert(
                "target_provision_state".into(),
                json!(e.target_provision_state),
            );
            m.insert(
                "duration_seconds".into(),
                json!(e.duration_seconds.map(|d| d.round() as i64).unwrap_or(0)),
            );
        }
    }
    m.insert("links".into(), json!([{"href": format!("{base}/v1/nodes/{}/history/{}", e.node_uuid, e.uuid), "rel": "self"}]));
    Value::Object(m)
}

pub async fn history(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(78) {
        return Err(ApiError::unknown_path());
    }
    let q = Query::parse(&req)?;
    let p = ListParams::parse(&q, v, &state, false)?;
    let n = find(&state, &path, v).await?;
    let events = state
        .store
        .history_list(n.uuid.clone(), p.marker.clone(), p.limit)
        .await
        .map_err(|e| match e {
            crate::db::StoreError::NotFound { id, .. } => {
                ApiError::not_found(format!("Node history record {id} could not be found."))
            }
            other => other.into(),
        })?;
    let base = base_url(&req, &state);
    let items: Vec<Value> = events
        .iter()
        .map(|e| history_view(e, v, &base, p.detail))
        .collect();
    let mut body = json!({ "history": items });
    if events.len() == p.limit as usize {
        if let Some(last) = events.last() {
            if let Some(b) = body.as_object_mut() {
                b.insert(
                    "next".into(),
                    json!(format!(
                        "{base}/v1/nodes/{}/history?limit={}&marker={}",
                        n.uuid, p.limit, last.uuid
                    )),
                );
            }
        }
    }
    Ok(HttpResponse::Ok().json(body))
}

pub async fn history_get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(78) {
        return Err(ApiError::unknown_path());
    }
    let (ident, id) = path.into_inner();
    let n = find(&state, &ident, v).await?;
    let e = state
        .store
        .history_get(n.uuid, id.clone())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("Node history record {id} could not be found."))
        })?;
    Ok(HttpResponse::Ok().json(history_view(&e, v, &base_url(&req, &state), true)))
}

/// `GET /v1/nodes/{id}/inventory` (1.81): 404 until an inspection stores one.
pub async fn inventory(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(81) {
        return Err(ApiError::unsupported_version());
    }
    let n = find(&state, &path, v).await?;
    match state.store.inventory_get(n.id).await? {
        Some((inventory, plugin_data)) => Ok(HttpResponse::Ok()
            .json(serde_json::json!({"inventory": inventory, "plugin_data": plugin_data}))),
        None => Err(ApiError::not_found(format!(
            "Node inventory for node {} could not be found.",
            n.uuid
        ))),
    }
}

/// `GET /v1/nodes/{id}/children` (1.83).
pub async fn children(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(83) {
        return Err(ApiError::unsupported_version());
    }
    let n = find(&state, &path, v).await?;
    let filter = NodeFilter {
        parent_node: Some(n.uuid.clone()),
        include_children: true,
        ..Default::default()
    };
    let page = Page {
        limit: state.config.api.max_limit,
        ..Page::all()
    };
    let kids = state.store.node_list(filter, page).await?;
    let base = base_url(&req, &state);
    let uuids: Vec<&str> = kids.iter().map(|k| k.uuid.as_str()).collect();
    Ok(HttpResponse::Ok().json(json!({
        "children": uuids,
        "links": [{"href": format!("{base}/v1/nodes?parent_node={}", n.uuid), "rel": "children"}],
    })))
}
