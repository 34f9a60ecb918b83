//! `/v1/drivers`: the enabled hardware types, their interfaces, driver_info properties and
//! RAID logical disk properties.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::{parse_bool, Query};
use super::views::{links, py_repr};
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
    // The properties link is discoverable from 1.14, the type from 1.30 (as in Ironic).
    if v.at_least(14) {
        m.insert(
            "properties".into(),
            links(base, &format!("drivers/{name}/properties")),
        );
    }
    if v.at_least(30) {
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

/// Every field `?fields=` may name (1.77), in the order Ironic's schema lists them.
fn field_names() -> Vec<String> {
    let mut names: Vec<String> = ["hosts", "links", "name"].map(String::from).to_vec();
    for kind in [
        "boot",
        "console",
        "deploy",
        "inspect",
        "management",
        "network",
        "power",
        "raid",
        "vendor",
        "storage",
        "rescue",
        "bios",
        "firmware",
    ] {
        names.push(format!("default_{kind}_interface"));
        names.push(format!("enabled_{kind}_interfaces"));
    }
    names.extend(["properties", "type"].map(String::from));
    names
}

/// `?fields=` of a driver list or show: from 1.77, each a name of the schema's enum.
fn fields_param(q: &Query, v: Version) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = q.list("fields") else {
        return Ok(None);
    };
    if !v.at_least(77) {
        return Err(ApiError::not_acceptable());
    }
    let names = field_names();
    if let Some(bad) = list.iter().find(|f| !names.contains(f)) {
        let all: Vec<Value> = names.iter().map(|n| json!(n)).collect();
        return Err(ApiError::bad_request(format!(
            "Schema error: '{bad}' is not one of {}",
            py_repr(&Value::Array(all))
        )));
    }
    Ok(Some(list))
}

/// Keep `fields` (and `links`, which Ironic always keeps) of each view; a field the
/// view does not have (a detail field in a plain list) is refused.
fn select_fields(views: &mut [Value], fields: &[String]) -> Result<(), ApiError> {
    for view in views.iter_mut() {
        let Value::Object(m) = view else { continue };
        let missing: Vec<&str> = fields
            .iter()
            .map(String::as_str)
            .filter(|f| !m.contains_key(*f))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::invalid_fields(&missing));
        }
        m.retain(|k, _| k == "links" || fields.contains(k));
    }
    Ok(())
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
    let fields = fields_param(&q, v)?;
    if detail && fields.is_some() {
        return Err(ApiError::bad_request(
            "Can not specify ?detail=True and fields in the same request.",
        ));
    }
    let base = base_url(&req, &state);
    let mut items: Vec<Value> = if kind == Some("classic") {
        vec![]
    } else {
        hosts(&state)
            .await?
            .iter()
            .map(|(name, h)| view(&state, name, v, &base, detail, h))
            .collect()
    };
    if let Some(f) = &fields {
        select_fields(&mut items, f)?;
    }
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
    let fields = fields_param(&Query::parse(&req)?, v)?;
    let h = find(&state, &path).await?;
    let mut one = [view(&state, &path, v, &base_url(&req, &state), true, &h)];
    if let Some(f) = &fields {
        select_fields(&mut one, f)?;
    }
    let [one] = one;
    Ok(HttpResponse::Ok().json(one))
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

/// `GET /v1/drivers/{driver}/raid/logical_disk_properties` (1.12): what a logical disk of
/// `target_raid_config` may say. Every RAID interface here (no-raid included, as in
/// Ironic) uses Ironic's RAID schema, so every driver gives its descriptions.
pub async fn raid_logical_disk_properties(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(12) {
        return Err(ApiError::not_acceptable());
    }
    find(&state, &path).await?;
    let props: Map<String, Value> = crate::model::raid::LOGICAL_DISK_PROPERTIES
        .iter()
        .map(|(k, d)| (k.to_string(), json!(d)))
        .collect();
    Ok(HttpResponse::Ok().json(props))
}
