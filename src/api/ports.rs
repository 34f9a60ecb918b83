//! `/v1/ports` and the port views nested under nodes and portgroups.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::{check_fields, next_link};
use super::params::{json_body, ListParams, Query};
use super::views::{links, mac, select, Reader};
use super::{base_url, created, State};
use crate::db::{Page, PortFilter};
use crate::model::mac::Mac;
use crate::model::port::Port;
use crate::model::validate;

pub const FIELDS: &[(&str, u32)] = &[
    ("uuid", 1),
    ("created_at", 1),
    ("updated_at", 1),
    ("address", 1),
    ("node_uuid", 1),
    ("extra", 1),
    ("internal_info", 18),
    ("local_link_connection", 19),
    ("pxe_enabled", 19),
    ("portgroup_uuid", 24),
    ("physical_network", 34),
    ("is_smartnic", 53),
    ("name", 88),
    ("description", 97),
    ("vendor", 100),
    ("category", 101),
    ("available_for_dynamic_portgroup", 111),
];

const PATCHABLE: &[&str] = &[
    "address",
    "node_uuid",
    "portgroup_uuid",
    "extra",
    "local_link_connection",
    "pxe_enabled",
    "physical_network",
    "is_smartnic",
    "name",
    "description",
    "vendor",
    "category",
];

fn field_version(name: &str) -> Option<u32> {
    FIELDS.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

fn visible(name: &str, v: Version) -> bool {
    field_version(name).is_some_and(|m| v.at_least(m))
}

fn raw_json(p: &Port, v: Version) -> Map<String, Value> {
    let o = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
    let all = [
        ("uuid", json!(p.uuid)),
        ("created_at", json!(p.created_at)),
        ("updated_at", o(&p.updated_at)),
        ("address", json!(p.address)),
        ("node_uuid", json!(p.node_uuid)),
        ("extra", Value::Object(p.extra.clone())),
        ("internal_info", Value::Object(p.internal_info.clone())),
        (
            "local_link_connection",
            Value::Object(p.local_link_connection.clone()),
        ),
        ("pxe_enabled", json!(p.pxe_enabled)),
        ("portgroup_uuid", o(&p.portgroup_uuid)),
        ("physical_network", o(&p.physical_network)),
        ("is_smartnic", json!(p.is_smartnic)),
        ("name", o(&p.name)),
        ("description", o(&p.description)),
        ("vendor", o(&p.vendor)),
        ("category", o(&p.category)),
        ("available_for_dynamic_portgroup", json!(true)),
    ];
    all.into_iter()
        .filter(|(k, _)| visible(k, v))
        .map(|(k, val)| (k.to_string(), val))
        .collect()
}

fn view(p: &Port, v: Version, base: &str, fields: Option<&[String]>) -> Value {
    let mut m = raw_json(p, v);
    m.insert("links".into(), links(base, &format!("ports/{}", p.uuid)));
    match fields {
        Some(f) => select(m, f),
        None => Value::Object(m),
    }
}

/// `local_link_connection`: Ironic's schema (known keys, string values, a usable combination).
fn check_llc(val: &Value) -> Result<crate::model::JsonObject, ApiError> {
    let err = |why: String| {
        ApiError::bad_request(format!(
        "Schema error for local_link_connection: {} is not valid under any of the given schemas. Possible root cause: {why}",
        super::views::py_repr(val)
    ))
    };
    let obj = Reader { res: "port" }.obj(val)?;
    for (k, x) in &obj {
        if !matches!(
            k.as_str(),
            "switch_id" | "port_id" | "switch_info" | "hostname" | "network_type"
        ) {
            return Err(err(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        if !x.is_string() {
            return Err(err(format!(
                "{} is not of type 'string'",
                super::views::py_repr(x)
            )));
        }
    }
    if obj.is_empty() {
        return Ok(obj);
    }
    let has = |k: &str| obj.contains_key(k);
    match obj.get("network_type").and_then(Value::as_str) {
        Some("unmanaged") => return Ok(obj),
        Some("managed") | None => {}
        Some(other) => {
            return Err(err(format!(
                "'{other}' is not one of ['managed', 'unmanaged']"
            )))
        }
    }
    if has("port_id") && (has("switch_id") || has("hostname")) {
        if let Some(sw) = obj.get("switch_id").and_then(Value::as_str) {
            let is_mac = Mac::parse_strict(sw).is_some();
            let is_dpid = sw.len() == 23 && sw.get(6..).and_then(Mac::parse_strict).is_some();
            if !is_mac && !is_dpid {
                return Err(ApiError::bad_request(format!(
                    "Expected a MAC address or OpenFlow datapath ID but received {sw}."
                )));
            }
        }
        return Ok(obj);
    }
    Err(err(
        "'port_id' and 'switch_id' (or 'hostname' for smart NICs) are required properties".into(),
    ))
}

fn set_field(p: &mut Port, key: &str, val: &Value) -> Result<(), ApiError> {
    let r = Reader { res: "port" };
    match key {
        "uuid" => {
            p.uuid = r
                .opt_uuid("uuid", val)?
                .unwrap_or_else(crate::model::new_uuid)
        }
        "address" => {
            p.address = r
                .opt_mac("address", val)?
                .ok_or_else(|| r.required("address"))?
        }
        "node_uuid" => {
            p.node_uuid = r
                .opt_uuid("node_uuid", val)?
                .ok_or_else(|| r.required("node_uuid"))?
        }
        "portgroup_uuid" => p.portgroup_uuid = r.opt_uuid("portgroup_uuid", val)?,
        "extra" => p.extra = r.obj(val)?,
        "local_link_connection" => p.local_link_connection = check_llc(val)?,
        "pxe_enabled" => {
            p.pxe_enabled = if val.is_null() {
                true
            } else {
                r.bool(key, val)?
            }
        }
        "physical_network" => p.physical_network = r.opt_str(val, 64)?,
        "is_smartnic" => {
            p.is_smartnic = if val.is_null() {
                false
            } else {
                r.bool(key, val)?
            }
        }
        "name" => {
            p.name = r.opt_str(val, 255)?;
            if let Some(n) = &p.name {
                if !validate::is_valid_logical_name(n) {
                    return Err(ApiError::bad_request(format!(
                        "Expected name for port: {n}"
                    )));
                }
            }
        }
        "description" => p.description = r.opt_str(val, 255)?,
        "vendor" => p.vendor = r.opt_str(val, 32)?,
        "category" => p.category = r.opt_str(val, 80)?,
        other => return Err(r.unexpected(other)),
    }
    Ok(())
}

async fn find(state: &State, ident: &str, v: Version) -> Result<Port, ApiError> {
    let by_name = v.at_least(88) && validate::is_valid_logical_name(ident);
    if !validate::is_uuid_like(ident) && !by_name {
        return Err(ApiError::bad_request(format!(
            "Expected UUID or name for port_ident: {ident}"
        )));
    }
    let key = validate::normalize_uuid(ident).unwrap_or_else(|| ident.to_string());
    state
        .store
        .port_get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Port {ident} could not be found.")))
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    list_ports(req, state, v, false, PortFilter::default(), "ports".into()).await
}

pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    list_ports(
        req,
        state,
        v,
        true,
        PortFilter::default(),
        "ports/detail".into(),
    )
    .await
}

/// `/v1/nodes/{id}/ports[/detail]`.
pub async fn list_for_node(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let detail = req.path().trim_end_matches('/').ends_with("/detail");
    let n = super::nodes::find(&state, &path, v).await?;
    let f = PortFilter {
        node_uuid: Some(n.uuid.clone()),
        ..Default::default()
    };
    let p = if detail {
        format!("nodes/{}/ports/detail", n.uuid)
    } else {
        format!("nodes/{}/ports", n.uuid)
    };
    list_ports(req, state, v, detail, f, p).await
}

/// `/v1/portgroups/{id}/ports[/detail]` (1.24).
pub async fn list_for_portgroup(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(24) {
        return Err(ApiError::unsupported_version());
    }
    let detail = req.path().trim_end_matches('/').ends_with("/detail");
    let pg = super::portgroups::find(&state, &path, v).await?;
    let f = PortFilter {
        portgroup_uuid: Some(pg.uuid.clone()),
        ..Default::default()
    };
    let p = if detail {
        format!("portgroups/{}/ports/detail", pg.uuid)
    } else {
        format!("portgroups/{}/ports", pg.uuid)
    };
    list_ports(req, state, v, detail, f, p).await
}

async fn list_ports(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    detail_path: bool,
    mut f: PortFilter,
    path: String,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let p = ListParams::parse(&q, v, &state, detail_path)?;
    if p.sort_key != "id" {
        match field_version(&p.sort_key) {
            None => {
                return Err(ApiError::bad_request(format!(
                    "The sort_key value \"{}\" is an invalid field for sorting",
                    p.sort_key
                )))
            }
            Some(_)
                if matches!(
                    p.sort_key.as_str(),
                    "extra"
                        | "internal_info"
                        | "local_link_connection"
                        | "node_uuid"
                        | "portgroup_uuid"
                        | "available_for_dynamic_portgroup"
                ) =>
            {
                return Err(ApiError::bad_request(format!(
                    "The sort_key value {} is an invalid field for sorting",
                    p.sort_key
                )))
            }
            Some(min) if !v.at_least(min) => return Err(ApiError::not_acceptable()),
            _ => {}
        }
    }
    if let Some(fl) = &p.fields {
        check_fields(fl, v, field_version)?;
    }
    if let Some(a) = q.get("address") {
        f.address = Some(mac("address", a)?);
    }
    for key in ["node", "node_uuid"] {
        if let Some(ident) = q.get(key) {
            let n = super::nodes::find(&state, ident, v).await?;
            f.node_uuid = Some(n.uuid);
        }
    }
    if let Some(pg) = q.gated("portgroup", v, 24)? {
        f.portgroup_uuid = Some(super::portgroups::find(&state, pg, v).await?.uuid);
    }
    if q.gated("shard", v, 82)?.is_some() {
        f.shard = q.list("shard");
    }
    if q.gated("conductor_groups", v, 99)?.is_some() {
        if q.has("node") || q.has("node_uuid") || q.has("portgroup") || q.has("address") {
            return Err(ApiError::bad_request("The conductor_groups parameter cannot be used together with node, portgroup or address."));
        }
        f.conductor_groups = q
            .list("conductor_groups")
            .map(|l| l.into_iter().map(|g| g.to_ascii_lowercase()).collect());
    }
    let page = Page {
        limit: p.limit,
        marker: p.marker.clone(),
        sort_key: p.sort_key.clone(),
        descending: p.descending(),
    };
    let ports = state.store.port_list(f, page).await?;
    let base = base_url(&req, &state);
    let fields = if p.detail {
        None
    } else {
        Some(
            p.fields
                .clone()
                .unwrap_or_else(|| vec!["uuid".into(), "address".into()]),
        )
    };
    let items: Vec<Value> = ports
        .iter()
        .map(|x| view(x, v, &base, fields.as_deref()))
        .collect();
    let mut body = json!({ "ports": items });
    if let Some(next) = next_link(
        &base,
        &path,
        &q,
        &p,
        ports.len(),
        ports.last().map(|x| x.uuid.as_str()),
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
    let p = find(&state, &path, v).await?;
    Ok(HttpResponse::Ok().json(view(&p, v, &base_url(&req, &state), fields.as_deref())))
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(
        &req,
        payload,
        state.config.api.max_json_body_size,
        state.config.api.max_json_body_depth,
    )
    .await?;
    let r = Reader { res: "port" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    for k in obj.keys() {
        if k != "uuid" && k != "node_ident" && !PATCHABLE.contains(&k.as_str()) {
            return Err(r.unexpected(k));
        }
    }
    if obj.keys().any(|k| {
        if k == "node_ident" {
            !v.at_least(94)
        } else {
            !visible(k, v)
        }
    }) {
        return Err(ApiError::not_acceptable());
    }
    if !obj.contains_key("address") {
        return Err(r.required("address"));
    }
    let mut p = Port {
        uuid: crate::model::new_uuid(),
        pxe_enabled: true,
        ..Default::default()
    };
    match (obj.get("node_uuid"), obj.get("node_ident")) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("Schema error for port: only one of node_uuid and node_ident may be given")),
        (None, None) => return Err(ApiError::bad_request(format!(
            "Schema error for port: {} is not valid under any of the given schemas. Possible root cause: 'node_ident' is a required property",
            super::views::py_repr(&body)
        ))),
        (None, Some(ident)) => {
            let ident = r.str(ident, 255)?;
            let n = super::nodes::find(&state, &ident, v).await.map_err(|e| ApiError::bad_request(e.message))?;
            p.node_uuid = n.uuid;
        }
        (Some(_), None) => {}
    }
    for (k, val) in obj.iter().filter(|(k, _)| *k != "node_ident") {
        set_field(&mut p, k, val)?;
    }
    let p = state.conductor.port_create(p).await?;
    let base = base_url(&req, &state);
    Ok(created(
        &format!("{base}/v1/ports/{}", p.uuid),
        view(&p, v, &base, None),
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
    let old = find(&state, &path, v).await?;
    let (after, changed) =
        super::patch::apply(raw_json(&old, v), &body, PATCHABLE, |root| visible(root, v))?;
    let mut new = old.clone();
    for k in &changed {
        set_field(&mut new, k, after.get(k).unwrap_or(&Value::Null))?;
    }
    let p = state.conductor.port_update(old, new).await?;
    Ok(HttpResponse::Ok().json(view(&p, v, &base_url(&req, &state), None)))
}

pub async fn delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = find(&state, &path, v).await?;
    state.conductor.port_delete(p).await?;
    Ok(HttpResponse::NoContent().finish())
}
