//! What a node's interfaces recorded about its hardware: BIOS settings with their
//! attribute-registry facts (`/bios`, 1.40; `detail` and `fields` at 1.74) and firmware
//! components (`/firmware`, 1.86; vendor, model and serial number at 1.114). Query rules
//! and messages are Ironic 39's.

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::find;
use super::params::{parse_bool, Query};
use super::views::{self, py_repr};
use super::{base_url, State};
use crate::db::BiosRow;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

/// The registry fields of a BIOS setting (Ironic's order).
const BIOS_REGISTRY: &[&str] = &[
    "attribute_type",
    "allowable_values",
    "lower_bound",
    "max_length",
    "min_length",
    "read_only",
    "reset_required",
    "unique",
    "upper_bound",
];

/// What `fields` may name on `/bios` (Ironic's schema enum).
const BIOS_FIELDS: &[&str] = &[
    "allowable_values",
    "attribute_type",
    "created_at",
    "lower_bound",
    "links",
    "max_length",
    "min_length",
    "name",
    "node_uuid",
    "read_only",
    "reset_required",
    "unique",
    "updated_at",
    "value",
];

/// What `fields` may name on `/firmware`.
const FIRMWARE_FIELDS: &[&str] = &[
    "created_at",
    "updated_at",
    "component",
    "initial_version",
    "current_version",
    "last_version_flashed",
    "vendor",
    "model",
    "serial_number",
];

const FIRMWARE_DEFAULT: &[&str] = &[
    "component",
    "initial_version",
    "current_version",
    "last_version_flashed",
];
const FIRMWARE_IDENTITY: &[&str] = &["vendor", "model", "serial_number"];

/// 400 naming every query parameter not in `allowed` (Ironic's wording for GETs).
fn only(q: &Query, allowed: &[&str]) -> Result<(), ApiError> {
    let extra: Vec<&str> = q
        .pairs()
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !allowed.contains(k))
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "Unexpected arguments: {}",
        extra.join(", ")
    )))
}

/// `fields`, each checked against `allowed` (the schema's enum).
fn fields(q: &Query, allowed: &[&str]) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = q.list("fields") else {
        return Ok(None);
    };
    if let Some(bad) = list.iter().find(|f| !allowed.contains(&f.as_str())) {
        let names: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        return Err(ApiError::bad_request(format!(
            "Schema error: {} is not one of [{}]",
            py_repr(&json!(bad)),
            names.join(", ")
        )));
    }
    Ok(Some(list))
}

fn registry_value(r: &crate::model::bios::Registry, key: &str) -> Value {
    match key {
        "attribute_type" => json!(r.attribute_type),
        // A list field: empty, not null, when unknown (as Ironic shows it).
        "allowable_values" => json!(r.allowable_values.clone().unwrap_or_default()),
        "lower_bound" => json!(r.lower_bound),
        "upper_bound" => json!(r.upper_bound),
        "min_length" => json!(r.min_length),
        "max_length" => json!(r.max_length),
        "read_only" => json!(r.read_only),
        "reset_required" => json!(r.reset_required),
        "unique" => json!(r.unique),
        _ => Value::Null,
    }
}

/// One setting: created_at, updated_at and links always (as Ironic), then `fields` (the
/// default view, registry fields with `detail`, when None).
fn bios_view(
    uuid: &str,
    base: &str,
    row: &BiosRow,
    detail: bool,
    fields: Option<&[String]>,
) -> Value {
    let mut m = Map::new();
    m.insert("created_at".into(), json!(row.created_at));
    m.insert("updated_at".into(), json!(row.updated_at));
    let wanted = |k: &str| fields.is_none_or(|f| f.iter().any(|x| x == k));
    for k in ["name", "value"] {
        if wanted(k) {
            let v = if k == "name" {
                json!(row.name)
            } else {
                json!(row.value)
            };
            m.insert(k.into(), v);
        }
    }
    if fields.is_some_and(|f| f.iter().any(|x| x == "node_uuid")) {
        m.insert("node_uuid".into(), json!(uuid));
    }
    for k in BIOS_REGISTRY {
        let shown = match fields {
            Some(f) => f.iter().any(|x| x == k),
            None => detail,
        };
        if shown {
            m.insert((*k).into(), registry_value(&row.registry, k));
        }
    }
    m.insert(
        "links".into(),
        views::links(base, &format!("nodes/{uuid}/bios/{}", row.name)),
    );
    Value::Object(m)
}

/// `GET /v1/nodes/{id}/bios` (1.40): the settings the node's bios interface recorded.
pub async fn bios(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(40) {
        return Err(ApiError::unsupported_version());
    }
    let q = Query::parse(&req)?;
    only(&q, &["detail", "fields"])?;
    // Below 1.74 the schema knows neither (Ironic names both when both are given).
    if !v.at_least(74) {
        let given: Vec<String> = ["detail", "fields"]
            .iter()
            .filter(|k| q.has(k))
            .map(|k| format!("'{k}'"))
            .collect();
        if !given.is_empty() {
            let verb = if given.len() == 1 { "was" } else { "were" };
            return Err(ApiError::bad_request(format!(
                "Schema error: Additional properties are not allowed ({} {verb} unexpected)",
                given.join(", ")
            )));
        }
    }
    let detail = match q.get("detail") {
        Some(d) => parse_bool("detail", d)?,
        None => false,
    };
    let fields = fields(&q, BIOS_FIELDS)?;
    if detail && fields.is_some() {
        return Err(ApiError::bad_request(
            "Can not specify ?detail=True and fields in the same request.",
        ));
    }
    let n = find(&state, &path, v).await?;
    let base = base_url(&req, &state);
    let rows = state.store.bios_list(n.id).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| bios_view(&n.uuid, &base, r, detail, fields.as_deref()))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "bios": items })))
}

/// `GET /v1/nodes/{id}/bios/{name}` (1.40): `{name: setting}`, registry fields at 1.74.
pub async fn bios_one(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(40) {
        return Err(ApiError::unsupported_version());
    }
    let (ident, name) = path.into_inner();
    let n = find(&state, &ident, v).await?;
    let rows = state.store.bios_list(n.id).await?;
    let row = rows.iter().find(|r| r.name == name).ok_or_else(|| {
        ApiError::not_found(format!(
            "Node {} doesn't have a BIOS setting '{name}'",
            n.uuid
        ))
    })?;
    let base = base_url(&req, &state);
    let view = bios_view(&n.uuid, &base, row, v.at_least(74), None);
    Ok(HttpResponse::Ok().json(json!({ name: view })))
}

fn firmware_view(c: &crate::model::firmware::ComponentRow, fields: &[String]) -> Value {
    let mut m = Map::new();
    m.insert("created_at".into(), json!(c.created_at));
    m.insert("updated_at".into(), json!(c.updated_at));
    for f in fields {
        let v = match f.as_str() {
            "component" => json!(c.component),
            "initial_version" => json!(c.initial_version),
            "current_version" => json!(c.current_version),
            "last_version_flashed" => json!(c.last_version_flashed),
            "vendor" => json!(c.vendor),
            "model" => json!(c.model),
            "serial_number" => json!(c.serial_number),
            // created_at / updated_at are already there.
            _ => continue,
        };
        m.insert(f.clone(), v);
    }
    Value::Object(m)
}

/// `GET /v1/nodes/{id}/firmware` (1.86): the components the firmware interface recorded.
pub async fn firmware(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(86) {
        return Err(ApiError::unsupported_version());
    }
    let q = Query::parse(&req)?;
    only(&q, &["detail", "fields"])?;
    // Ironic 39's schema takes `detail` as a boolean but receives the query text, so it
    // refuses every value; clients see this 400.
    if let Some(d) = q.get("detail") {
        return Err(ApiError::bad_request(format!(
            "Schema error: {} is not of type 'boolean'",
            py_repr(&json!(d))
        )));
    }
    let identity = v.at_least(114);
    let fields = match fields(&q, FIRMWARE_FIELDS)? {
        Some(f) => {
            let mut early: Vec<&str> = f
                .iter()
                .map(String::as_str)
                .filter(|x| FIRMWARE_IDENTITY.contains(x))
                .collect();
            if !identity && !early.is_empty() {
                early.sort_unstable();
                return Err(ApiError::bad_request(format!(
                    "Fields {} are not allowed in this API version. They require at least API version 1.114.",
                    early.join(", ")
                )));
            }
            f
        }
        None => {
            let extra: &[&str] = if identity { FIRMWARE_IDENTITY } else { &[] };
            FIRMWARE_DEFAULT
                .iter()
                .chain(extra)
                .map(|s| s.to_string())
                .collect()
        }
    };
    let n = find(&state, &path, v).await?;
    let rows = state.store.firmware_list(n.id).await?;
    let items: Vec<Value> = rows.iter().map(|c| firmware_view(c, &fields)).collect();
    Ok(HttpResponse::Ok().json(json!({ "firmware": items })))
}
