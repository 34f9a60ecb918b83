//! `/v1/allocations` (1.52) and `/v1/nodes/{id}/allocation`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::{check_fields, next_link};
use super::params::{json_body, ListParams, Query};
use super::views::{links, py_repr, select, Reader};
use super::{base_url, created, State};
use crate::db::{AllocationFilter, Page};
use crate::model::allocation::Allocation;
use crate::model::validate;

const FIELDS: &[(&str, u32)] = &[
    ("uuid", 52),
    ("name", 52),
    ("node_uuid", 52),
    ("resource_class", 52),
    ("traits", 52),
    ("candidate_nodes", 52),
    ("state", 52),
    ("last_error", 52),
    ("extra", 52),
    ("created_at", 52),
    ("updated_at", 52),
    ("owner", 60),
];

fn field_version(f: &str) -> Option<u32> {
    FIELDS.iter().find(|(k, _)| *k == f).map(|(_, v)| *v)
}

fn gate(v: Version) -> Result<(), ApiError> {
    if v.at_least(52) {
        Ok(())
    } else {
        Err(ApiError::unsupported_version())
    }
}

fn view(a: &Allocation, v: Version, base: &str, fields: Option<&[String]>) -> Value {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(a.uuid));
    m.insert("name".into(), json!(a.name));
    m.insert("node_uuid".into(), json!(a.node_uuid));
    m.insert("resource_class".into(), json!(a.resource_class));
    m.insert("traits".into(), json!(a.traits));
    m.insert("candidate_nodes".into(), json!(a.candidate_nodes));
    m.insert("state".into(), json!(a.state));
    m.insert("last_error".into(), json!(a.last_error));
    m.insert("extra".into(), Value::Object(a.extra.clone()));
    m.insert("created_at".into(), json!(a.created_at));
    m.insert("updated_at".into(), json!(a.updated_at));
    if v.at_least(60) {
        m.insert("owner".into(), json!(a.owner));
    }
    m.insert(
        "links".into(),
        links(base, &format!("allocations/{}", a.uuid)),
    );
    match fields {
        Some(f) => select(m, f),
        None => Value::Object(m),
    }
}

async fn find(state: &State, ident: &str) -> Result<Allocation, ApiError> {
    if !validate::is_uuid_like(ident) && !validate::is_valid_logical_name(ident) {
        return Err(ApiError::bad_request(format!(
            "Expected UUID or name for allocation: {ident}"
        )));
    }
    let key = validate::normalize_uuid(ident).unwrap_or_else(|| ident.to_string());
    state
        .store
        .allocation_get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Allocation {ident} could not be found.")))
}

fn traits(r: &Reader, v: &Value) -> Result<Vec<String>, ApiError> {
    let list = v.as_array().ok_or_else(|| {
        ApiError::bad_request(format!(
            "Schema error for allocation: {} is not of type 'array'",
            py_repr(v)
        ))
    })?;
    let mut out = vec![];
    for t in list {
        let s = r.str(t, 255)?;
        if !validate::is_valid_trait(&s) {
            return Err(ApiError::bad_request(format!(
                "Schema error for allocation: '{s}' does not match '^CUSTOM_[A-Z0-9_]+$'"
            )));
        }
        out.push(s);
    }
    Ok(out)
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let q = Query::parse(&req)?;
    let p = ListParams::parse(&q, v, &state, false)?;
    if p.sort_key != "id"
        && !matches!(
            p.sort_key.as_str(),
            "uuid" | "name" | "resource_class" | "state" | "created_at" | "updated_at"
        )
    {
        return Err(ApiError::bad_request(format!(
            "The sort_key value \"{}\" is an invalid field for sorting",
            p.sort_key
        )));
    }
    if let Some(f) = &p.fields {
        check_fields(f, v, field_version)?;
    }
    let mut f = AllocationFilter {
        resource_class: q.get("resource_class").map(str::to_string),
        state: q.get("state").map(str::to_string),
        ..Default::default()
    };
    f.owner = q.gated("owner", v, 60)?.map(str::to_string);
    if let Some(n) = q.get("node") {
        f.node_uuid = Some(super::nodes::find(&state, n, v).await?.uuid);
    }
    let page = Page {
        limit: p.limit,
        marker: p.marker.clone(),
        sort_key: p.sort_key.clone(),
        descending: p.descending(),
    };
    let items = state.store.allocation_list(f, page).await?;
    let base = base_url(&req, &state);
    let out: Vec<Value> = items
        .iter()
        .map(|a| view(a, v, &base, p.fields.as_deref()))
        .collect();
    let mut body = json!({ "allocations": out });
    if let Some(next) = next_link(
        &base,
        "allocations",
        &q,
        &p,
        items.len(),
        items.last().map(|a| a.uuid.as_str()),
        p.fields.as_deref(),
    ) {
        body["next"] = json!(next);
    }
    Ok(HttpResponse::Ok().json(body))
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let q = Query::parse(&req)?;
    let fields = q.get("fields").map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    if let Some(f) = &fields {
        check_fields(f, v, field_version)?;
    }
    let a = find(&state, &path).await?;
    Ok(HttpResponse::Ok().json(view(&a, v, &base_url(&req, &state), fields.as_deref())))
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let api = &state.config.api;
    let body = json_body(
        &req,
        payload,
        api.max_json_body_size,
        api.max_json_body_depth,
    )
    .await?;
    let r = Reader { res: "allocation" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    for k in obj.keys() {
        let min = match k.as_str() {
            "uuid" | "name" | "resource_class" | "traits" | "candidate_nodes" | "extra" => 52,
            "node" => 58,
            "owner" => 60,
            other => return Err(r.unexpected(other)),
        };
        if !v.at_least(min) {
            return Err(ApiError::not_acceptable());
        }
    }
    let mut a = Allocation {
        uuid: crate::model::new_uuid(),
        ..Default::default()
    };
    for (k, val) in obj {
        match k.as_str() {
            "uuid" => {
                a.uuid = r
                    .opt_uuid("uuid", val)?
                    .unwrap_or_else(crate::model::new_uuid)
            }
            "name" => {
                a.name = r.opt_str(val, 255)?;
                if let Some(n) = &a.name {
                    if !validate::is_valid_logical_name(n) {
                        return Err(ApiError::bad_request(format!(
                            "Cannot create allocation with invalid name '{n}'"
                        )));
                    }
                }
            }
            "resource_class" => a.resource_class = r.opt_str(val, 80)?,
            "traits" => a.traits = traits(&r, val)?,
            "extra" => a.extra = r.obj(val)?,
            "owner" => a.owner = r.opt_str(val, 255)?,
            "candidate_nodes" => {
                let list = val.as_array().ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Schema error for allocation: {} is not of type 'array'",
                        py_repr(val)
                    ))
                })?;
                for c in list {
                    let ident = r.str(c, 255)?;
                    let n = super::nodes::find(&state, &ident, v).await.map_err(|_| {
                        ApiError::bad_request(format!("Candidate node {ident} could not be found"))
                    })?;
                    a.candidate_nodes.push(n.uuid);
                }
            }
            _ => {}
        }
    }
    let backfill = match obj.get("node") {
        Some(n) => {
            let ident = r.str(n, 255)?;
            Some(
                super::nodes::find(&state, &ident, v)
                    .await
                    .map_err(|e| ApiError::bad_request(e.message))?,
            )
        }
        None => None,
    };
    if backfill.is_none() && a.resource_class.is_none() {
        return Err(r.required("resource_class"));
    }
    let a = state.conductor.allocation_create(a, backfill).await?;
    let base = base_url(&req, &state);
    Ok(created(
        &format!("{base}/v1/allocations/{}", a.uuid),
        view(&a, v, &base, None),
    ))
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    if !v.at_least(57) {
        return Err(ApiError::method_not_allowed());
    }
    let api = &state.config.api;
    let body = json_body(
        &req,
        payload,
        api.max_json_body_size,
        api.max_json_body_depth,
    )
    .await?;
    let old = find(&state, &path).await?;
    let mut doc = Map::new();
    doc.insert("name".into(), json!(old.name));
    doc.insert("extra".into(), Value::Object(old.extra.clone()));
    if v.at_least(60) {
        doc.insert("owner".into(), json!(old.owner));
    }
    let allowed: &[&str] = if v.at_least(60) {
        &["name", "extra", "owner"]
    } else {
        &["name", "extra"]
    };
    let (after, changed) = super::patch::apply(doc, &body, allowed, |_| true)?;
    let r = Reader { res: "allocation" };
    let mut a = old.clone();
    for k in &changed {
        let val = after.get(k).unwrap_or(&Value::Null);
        match k.as_str() {
            "name" => {
                a.name = r.opt_str(val, 255)?;
                if a.name
                    .as_deref()
                    .is_some_and(|n| !validate::is_valid_logical_name(n))
                {
                    return Err(ApiError::bad_request(format!(
                        "Cannot update allocation with invalid name '{}'",
                        a.name.clone().unwrap_or_default()
                    )));
                }
            }
            "extra" => a.extra = r.obj(val)?,
            "owner" => a.owner = r.opt_str(val, 255)?,
            _ => {}
        }
    }
    let a = state.conductor.allocation_update(a).await?;
    Ok(HttpResponse::Ok().json(view(&a, v, &base_url(&req, &state), None)))
}

pub async fn delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let a = find(&state, &path).await?;
    state.conductor.allocation_delete(a).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/nodes/{id}/allocation`
pub async fn node_get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let n = super::nodes::find(&state, &path, v).await?;
    let a = state
        .store
        .allocation_of_node(n.uuid.clone())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Allocation for node {} could not be found.",
                n.uuid
            ))
        })?;
    Ok(HttpResponse::Ok().json(view(&a, v, &base_url(&req, &state), None)))
}

/// `DELETE /v1/nodes/{id}/allocation`
pub async fn node_delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let n = super::nodes::find(&state, &path, v).await?;
    let a = state
        .store
        .allocation_of_node(n.uuid.clone())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Allocation for node {} could not be found.",
                n.uuid
            ))
        })?;
    state.conductor.allocation_delete(a).await?;
    Ok(HttpResponse::NoContent().finish())
}
