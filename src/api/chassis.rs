//! `/v1/chassis`: a grouping of nodes.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::{check_fields, next_link};
use super::params::{json_body, ListParams, Query};
use super::views::{links, select, Reader};
use super::{base_url, created, State};
use crate::db::Page;
use crate::model::chassis::Chassis;
use crate::model::validate;

const FIELDS: &[(&str, u32)] = &[
    ("uuid", 1),
    ("description", 1),
    ("extra", 1),
    ("created_at", 1),
    ("updated_at", 1),
];

fn field_version(name: &str) -> Option<u32> {
    FIELDS.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

fn raw_json(c: &Chassis) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(c.uuid));
    m.insert("created_at".into(), json!(c.created_at));
    m.insert("updated_at".into(), json!(c.updated_at));
    m.insert("description".into(), json!(c.description));
    m.insert("extra".into(), Value::Object(c.extra.clone()));
    m
}

fn view(c: &Chassis, base: &str, fields: Option<&[String]>) -> Value {
    let mut m = raw_json(c);
    m.insert("links".into(), links(base, &format!("chassis/{}", c.uuid)));
    if let Some(f) = fields {
        return select(m, f);
    }
    m.insert(
        "nodes".into(),
        links(base, &format!("chassis/{}/nodes", c.uuid)),
    );
    Value::Object(m)
}

fn set_field(c: &mut Chassis, key: &str, val: &Value) -> Result<(), ApiError> {
    let r = Reader { res: "chassis" };
    match key {
        "uuid" => {
            c.uuid = r
                .opt_uuid("uuid", val)?
                .unwrap_or_else(crate::model::new_uuid)
        }
        "description" => c.description = r.opt_str(val, 255)?,
        "extra" => c.extra = r.obj(val)?,
        other => return Err(r.unexpected(other)),
    }
    Ok(())
}

async fn find(state: &State, ident: &str) -> Result<Chassis, ApiError> {
    let uuid = validate::normalize_uuid(ident)
        .ok_or_else(|| ApiError::bad_request(format!("Expected UUID for chassis_uuid: {ident}")))?;
    state
        .store
        .chassis_get(uuid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Chassis {ident} could not be found.")))
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    list_chassis(req, state, v, false).await
}

pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    list_chassis(req, state, v, true).await
}

async fn list_chassis(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    detail_path: bool,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let p = ListParams::parse(&q, v, &state, detail_path)?;
    if p.sort_key != "id"
        && !matches!(
            p.sort_key.as_str(),
            "uuid" | "description" | "created_at" | "updated_at"
        )
    {
        let quoted = if p.sort_key == "extra" {
            p.sort_key.clone()
        } else {
            format!("\"{}\"", p.sort_key)
        };
        return Err(ApiError::bad_request(format!(
            "The sort_key value {quoted} is an invalid field for sorting"
        )));
    }
    if let Some(f) = &p.fields {
        check_fields(f, v, field_version)?;
    }
    let page = Page {
        limit: p.limit,
        marker: p.marker.clone(),
        sort_key: p.sort_key.clone(),
        descending: p.descending(),
    };
    let items = state.store.chassis_list(page).await?;
    let base = base_url(&req, &state);
    let fields = if p.detail {
        None
    } else {
        Some(
            p.fields
                .clone()
                .unwrap_or_else(|| vec!["uuid".into(), "description".into()]),
        )
    };
    let out: Vec<Value> = items
        .iter()
        .map(|c| view(c, &base, fields.as_deref()))
        .collect();
    let mut body = json!({ "chassis": out });
    let path = if detail_path {
        "chassis/detail"
    } else {
        "chassis"
    };
    if let Some(next) = next_link(
        &base,
        path,
        &q,
        &p,
        items.len(),
        items.last().map(|c| c.uuid.as_str()),
        fields.as_deref(),
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
    let q = Query::parse(&req)?;
    let fields = q.gated("fields", v, 8)?.map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    if let Some(f) = &fields {
        check_fields(f, v, field_version)?;
    }
    let c = find(&state, &path).await?;
    Ok(HttpResponse::Ok().json(view(&c, &base_url(&req, &state), fields.as_deref())))
}

/// `/v1/chassis/{id}/nodes[/detail]`.
pub async fn nodes(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = find(&state, &path).await?;
    let detail = req.path().trim_end_matches('/').ends_with("/detail");
    super::nodes::list_nodes(req, state, v, detail, Some(c.uuid)).await
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let _ = v;
    let body = json_body(
        &req,
        payload,
        state.config.api.max_json_body_size,
        state.config.api.max_json_body_depth,
    )
    .await?;
    let r = Reader { res: "chassis" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    let mut c = Chassis {
        uuid: crate::model::new_uuid(),
        ..Default::default()
    };
    for (k, val) in obj {
        set_field(&mut c, k, val)?;
    }
    let c = state.conductor.chassis_create(c).await?;
    let base = base_url(&req, &state);
    Ok(created(
        &format!("{base}/v1/chassis/{}", c.uuid),
        view(&c, &base, None),
    ))
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(
        &req,
        payload,
        state.config.api.max_json_body_size,
        state.config.api.max_json_body_depth,
    )
    .await?;
    let old = find(&state, &path).await?;
    let (after, changed) =
        super::patch::apply(raw_json(&old), &body, &["description", "extra"], |_| {
            v.at_least(1)
        })?;
    let mut new = old.clone();
    for k in &changed {
        set_field(&mut new, k, after.get(k).unwrap_or(&Value::Null))?;
    }
    let c = state.conductor.chassis_update(new).await?;
    Ok(HttpResponse::Ok().json(view(&c, &base_url(&req, &state), None)))
}

pub async fn delete(
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = find(&state, &path).await?;
    state.conductor.chassis_delete(c).await?;
    Ok(HttpResponse::NoContent().finish())
}
