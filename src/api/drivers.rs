//! `/v1/drivers`: the enabled hardware types, their interfaces and driver_info properties.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::{parse_bool, Query};
use super::views::links;
use super::{base_url, State};

fn view(
    state: &State,
    name: &str,
    v: Version,
    base: &str,
    detail: bool,
    hosts: &[String],
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("hosts".into(), json!(hosts));
    m.insert("links".into(), links(base, &format!("drivers/{name}")));
    if v.at_least(30) {
        m.insert(
            "properties".into(),
            links(base, &format!("drivers/{name}/properties")),
        );
        m.insert("type".into(), json!("dynamic"));
    }
    if detail && v.at_least(30) {
        for i in state.conductor.driver_interfaces(name).unwrap_or_default() {
            if i.kind == "firmware" && !v.at_least(86) {
                continue;
            }
            m.insert(format!("default_{}_interface", i.kind), json!(i.default));
            m.insert(format!("enabled_{}_interfaces", i.kind), json!(i.enabled));
        }
    }
    Value::Object(m)
}

/// Hosts (alive conductors) that load each enabled hardware type.
async fn hosts(state: &State) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let conductors = state.store.conductor_list(crate::db::Page::all()).await?;
    let timeout = state.config.conductor.heartbeat_timeout.as_secs();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for c in conductors
        .iter()
        .filter(|c| super::conductors::alive(c, timeout))
    {
        for d in &c.drivers {
            match out.iter_mut().find(|(n, _)| n == d) {
                Some((_, h)) => h.push(c.hostname.clone()),
                None => out.push((d.clone(), vec![c.hostname.clone()])),
            }
        }
    }
    Ok(out)
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let detail = match q.get("detail") {
        Some(d) if v.at_least(30) => parse_bool("detail", d)?,
        Some(_) => return Err(ApiError::not_acceptable()),
        None => false,
    };
    let kind = q.get("type");
    if let Some(t) = kind {
        if !v.at_least(30) {
            return Err(ApiError::not_acceptable());
        }
        if t != "classic" && t != "dynamic" {
            return Err(ApiError::bad_request(format!(
                "Invalid type: {t}. Valid driver types are: classic, dynamic"
            )));
        }
    }
    let base = base_url(&req, &state);
    let items: Vec<Value> = if kind == Some("classic") {
        vec![]
    } else {
        hosts(&state)
            .await?
            .iter()
            .map(|(name, h)| view(&state, name, v, &base, detail, h))
            .collect()
    };
    Ok(HttpResponse::Ok().json(json!({ "drivers": items })))
}

async fn find(state: &State, name: &str) -> Result<Vec<String>, ApiError> {
    hosts(state)
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, h)| h)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Could not find the following driver(s) or hardware type(s): {name}."
            ))
        })
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let h = find(&state, &path).await?;
    Ok(HttpResponse::Ok().json(view(&state, &path, v, &base_url(&req, &state), true, &h)))
}

pub async fn properties(
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    find(&state, &path).await?;
    let props: Map<String, Value> = state
        .conductor
        .driver_properties(&path)
        .into_iter()
        .map(|(k, d)| (k.to_string(), json!(d)))
        .collect();
    Ok(HttpResponse::Ok().json(props))
}
