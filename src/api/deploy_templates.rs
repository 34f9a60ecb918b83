//! `/v1/deploy_templates` (1.55): named deploy step lists matched through instance traits.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::{check_fields, next_link};
use super::params::{json_body, ListParams, Query};
use super::views::{links, py_repr, select, Reader};
use super::{base_url, created, State};
use crate::db::Page;
use crate::model::deploy_template::DeployTemplate;
use crate::model::validate;

const FIELDS: &[&str] = &["uuid", "name", "steps", "extra", "created_at", "updated_at"];
const STEP_INTERFACES: &[&str] = &[
    "bios",
    "deploy",
    "firmware",
    "management",
    "network",
    "power",
    "raid",
    "vendor",
];

fn gate(v: Version) -> Result<(), ApiError> {
    if v.at_least(55) {
        Ok(())
    } else {
        Err(ApiError::unsupported_version())
    }
}

fn view(t: &DeployTemplate, base: &str, fields: Option<&[String]>) -> Value {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(t.uuid));
    m.insert("name".into(), json!(t.name));
    m.insert("steps".into(), json!(t.steps));
    m.insert("extra".into(), Value::Object(t.extra.clone()));
    m.insert("created_at".into(), json!(t.created_at));
    m.insert("updated_at".into(), json!(t.updated_at));
    m.insert(
        "links".into(),
        links(base, &format!("deploy_templates/{}", t.uuid)),
    );
    match fields {
        Some(f) => select(m, f),
        None => Value::Object(m),
    }
}

async fn find(state: &State, ident: &str) -> Result<DeployTemplate, ApiError> {
    let key = validate::normalize_uuid(ident).unwrap_or_else(|| ident.to_string());
    state
        .store
        .deploy_template_get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Deploy template {ident} could not be found.")))
}

fn check_name(v: &Value) -> Result<String, ApiError> {
    let name = Reader {
        res: "deploy_template",
    }
    .str(v, 255)?;
    if !validate::is_valid_trait(&name) {
        return Err(ApiError::bad_request(format!("Schema error for deploy_template: '{name}' is not valid under any of the given schemas. Possible root cause: '{name}' does not match '^CUSTOM_[A-Z0-9_]+$'")));
    }
    Ok(name)
}

/// Steps: a non-empty list of `{interface, step, args, priority}`, all required.
fn check_steps(v: &Value) -> Result<Vec<Value>, ApiError> {
    let err = |m: String| ApiError::bad_request(format!("Schema error for deploy_template: {m}"));
    let list = v
        .as_array()
        .ok_or_else(|| err(format!("{} is not of type 'array'", py_repr(v))))?;
    if list.is_empty() {
        return Err(err("[] is too short".into()));
    }
    for s in list {
        let o = s
            .as_object()
            .ok_or_else(|| err(format!("{} is not of type 'object'", py_repr(s))))?;
        for k in ["interface", "step", "args", "priority"] {
            if !o.contains_key(k) {
                return Err(err(format!("'{k}' is a required property")));
            }
        }
        if let Some(k) = o
            .keys()
            .find(|k| !matches!(k.as_str(), "interface" | "step" | "args" | "priority"))
        {
            return Err(err(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        if !o["interface"]
            .as_str()
            .is_some_and(|i| STEP_INTERFACES.contains(&i))
        {
            return Err(err(format!(
                "{} is not one of {STEP_INTERFACES:?}",
                py_repr(&o["interface"])
            )));
        }
        if !o["step"].as_str().is_some_and(|s| !s.is_empty())
            || !o["args"].is_object()
            || !o["priority"].as_i64().is_some_and(|p| p >= 0)
        {
            return Err(err(format!(
                "invalid step {}: step must be a name, args an object, priority an integer >= 0",
                py_repr(s)
            )));
        }
    }
    Ok(list.clone())
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
            "uuid" | "name" | "created_at" | "updated_at"
        )
    {
        return Err(ApiError::bad_request(format!(
            "The sort_key value \"{}\" is an invalid field for sorting",
            p.sort_key
        )));
    }
    if let Some(f) = &p.fields {
        check_fields(f, v, |x| FIELDS.contains(&x).then_some(55))?;
    }
    let page = Page {
        limit: p.limit,
        marker: p.marker.clone(),
        sort_key: p.sort_key.clone(),
        descending: p.descending(),
    };
    let items = state.store.deploy_template_list(page).await?;
    let base = base_url(&req, &state);
    let fields = if p.detail {
        None
    } else {
        Some(
            p.fields
                .clone()
                .unwrap_or_else(|| vec!["uuid".into(), "name".into()]),
        )
    };
    let out: Vec<Value> = items
        .iter()
        .map(|t| view(t, &base, fields.as_deref()))
        .collect();
    let mut body = json!({ "deploy_templates": out });
    if let Some(next) = next_link(
        &base,
        "deploy_templates",
        &q,
        &p,
        items.len(),
        items.last().map(|t| t.uuid.as_str()),
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
    gate(v)?;
    let t = find(&state, &path).await?;
    Ok(HttpResponse::Ok().json(view(&t, &base_url(&req, &state), None)))
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
    let r = Reader {
        res: "deploy_template",
    };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "uuid" | "name" | "steps" | "extra"))
    {
        return Err(r.unexpected(k));
    }
    let mut t = DeployTemplate {
        uuid: crate::model::new_uuid(),
        ..Default::default()
    };
    t.name = check_name(obj.get("name").ok_or_else(|| r.required("name"))?)?;
    t.steps = check_steps(obj.get("steps").ok_or_else(|| r.required("steps"))?)?;
    if let Some(u) = obj.get("uuid") {
        t.uuid = r
            .opt_uuid("uuid", u)?
            .unwrap_or_else(crate::model::new_uuid);
    }
    if let Some(e) = obj.get("extra") {
        t.extra = r.obj(e)?;
    }
    let t = state.conductor.deploy_template_create(t).await?;
    let base = base_url(&req, &state);
    Ok(created(
        &format!("{base}/v1/deploy_templates/{}", t.uuid),
        view(&t, &base, None),
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
    doc.insert("steps".into(), json!(old.steps));
    doc.insert("extra".into(), Value::Object(old.extra.clone()));
    let (after, changed) = super::patch::apply(doc, &body, &["name", "steps", "extra"], |_| true)?;
    let mut t = old.clone();
    for k in &changed {
        let val = after.get(k).unwrap_or(&Value::Null);
        match k.as_str() {
            "name" => t.name = check_name(val)?,
            "steps" => t.steps = check_steps(val)?,
            "extra" => {
                t.extra = Reader {
                    res: "deploy_template",
                }
                .obj(val)?
            }
            _ => {}
        }
    }
    let t = state.conductor.deploy_template_update(t).await?;
    Ok(HttpResponse::Ok().json(view(&t, &base_url(&req, &state), None)))
}

pub async fn delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let t = find(&state, &path).await?;
    state.conductor.deploy_template_delete(t).await?;
    Ok(HttpResponse::NoContent().finish())
}
