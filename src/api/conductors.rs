//! `/v1/conductors` (1.49): registered conductor services and whether they are alive.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::{ListParams, Query};
use super::views::{links, select};
use super::{base_url, State};
use crate::db::Page;
use crate::model::conductor::Conductor;

const FIELDS: &[&str] = &[
    "hostname",
    "conductor_group",
    "alive",
    "drivers",
    "created_at",
    "updated_at",
];

/// Alive = online and heard from within `[conductor] heartbeat_timeout`.
pub fn alive(c: &Conductor, timeout_s: u64) -> bool {
    let last = c.updated_at.as_deref().unwrap_or(&c.created_at);
    let fresh = chrono::DateTime::parse_from_str(last, "%Y-%m-%dT%H:%M:%S%.f%:z")
        .map(|t| chrono::Utc::now().signed_duration_since(t).num_seconds() < timeout_s as i64)
        .unwrap_or(false);
    c.online && fresh
}

fn view(c: &Conductor, base: &str, timeout: u64, detail: bool, fields: Option<&[String]>) -> Value {
    let mut m = Map::new();
    m.insert("hostname".into(), json!(c.hostname));
    m.insert("conductor_group".into(), json!(c.conductor_group));
    m.insert("alive".into(), json!(alive(c, timeout)));
    m.insert(
        "links".into(),
        links(base, &format!("conductors/{}", c.hostname)),
    );
    if detail || fields.is_some() {
        m.insert("drivers".into(), json!(c.drivers));
        m.insert("created_at".into(), json!(c.created_at));
        m.insert("updated_at".into(), json!(c.updated_at));
    }
    match fields {
        Some(f) => select(m, f),
        None => Value::Object(m),
    }
}

fn gate(v: Version) -> Result<(), ApiError> {
    if v.at_least(49) {
        Ok(())
    } else {
        Err(ApiError::unsupported_version())
    }
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let q = Query::parse(&req)?;
    let p = ListParams::parse(&q, v, &state, false)?;
    if let Some(f) = &p.fields {
        super::nodes::check_fields(f, v, |x| FIELDS.contains(&x).then_some(49))?;
    }
    let sort = match p.sort_key.as_str() {
        "id" | "hostname" | "conductor_group" | "created_at" | "updated_at" => p.sort_key.clone(),
        "alive" | "drivers" => {
            return Err(ApiError::bad_request(format!(
                "The sort_key value {} is an invalid field for sorting",
                p.sort_key
            )))
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "The sort_key value \"{other}\" is an invalid field for sorting"
            )))
        }
    };
    let page = Page {
        limit: p.limit,
        marker: p.marker.clone(),
        sort_key: sort,
        descending: p.descending(),
    };
    let items = state.store.conductor_list(page).await?;
    let base = base_url(&req, &state);
    let timeout = state.config.conductor.heartbeat_timeout.as_secs();
    let out: Vec<Value> = items
        .iter()
        .map(|c| view(c, &base, timeout, p.detail, p.fields.as_deref()))
        .collect();
    let mut body = json!({ "conductors": out });
    if items.len() == p.limit as usize {
        if let Some(last) = items.last() {
            body["next"] = json!(format!(
                "{base}/v1/conductors?limit={}&marker={}",
                p.limit, last.hostname
            ));
        }
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
    let c = state
        .store
        .conductor_get(path.to_string())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("Conductor {} could not be found.", path.as_str()))
        })?;
    let timeout = state.config.conductor.heartbeat_timeout.as_secs();
    Ok(HttpResponse::Ok().json(view(&c, &base_url(&req, &state), timeout, true, None)))
}
