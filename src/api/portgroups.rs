//! `/v1/portgroups` (1.23) and the node's portgroup view.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::nodes::{check_fields, next_link};
use super::params::{json_body, ListParams, Query};
use super::views::{links, mac, select, Reader};
use super::{base_url, created, State};
use crate::db::{Page, PortgroupFilter};
use crate::model::portgroup::Portgroup;
use crate::model::validate;

pub const FIELDS: &[(&str, u32)] = &[
    ("uuid", 23),
    ("created_at", 23),
    ("updated_at", 23),
    ("name", 23),
    ("address", 23),
    ("node_uuid", 23),
    ("standalone_ports_supported", 23),
    ("internal_info", 23),
    ("extra", 23),
    ("mode", 26),
    ("properties", 26),
    ("physical_network", 102),
    ("category", 103),
    ("dynamic_portgroup", 111),
];

const PATCHABLE: &[&str] = &[
    "address",
    "node_uuid",
    "name",
    "standalone_ports_supported",
    "extra",
    "mode",
    "properties",
    "physical_network",
    "category",
];

/// Linux bonding modes Ironic accepts.
const MODES: &[&str] = &[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
];

fn field_version(name: &str) -> Option<u32> {
    FIELDS.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

fn visible(name: &str, v: Version) -> bool {
    field_version(name).is_some_and(|m| v.at_least(m))
}

fn raw_json(p: &Portgroup, v: Version) -> Map<String, Value> {
    let o = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
    let all = [
        ("uuid", json!(p.uuid)),
        ("created_at", json!(p.created_at)),
        ("updated_at", o(&p.updated_at)),
        ("name", o(&p.name)),
        ("address", o(&p.address)),
        ("node_uuid", json!(p.node_uuid)),
        (
            "standalone_ports_supported",
            json!(p.standalone_ports_supported),
        ),
        ("internal_info", Value::Object(p.internal_info.clone())),
        ("extra", Value::Object(p.extra.clone())),
        ("mode", o(&p.mode)),
        ("properties", Value::Object(p.properties.clone())),
        ("physical_network", o(&p.physical_network)),
        ("category", o(&p.category)),
        ("dynamic_portgroup", json!(false)),
    ];
    all.into_iter()
        .filter(|(k, _)| visible(k, v))
        .map(|(k, val)| (k.to_string(), val))
        .collect()
}

fn view(p: &Portgroup, v: Version, base: &str, fields: Option<&[String]>) -> Value {
    let mut m = raw_json(p, v);
    m.insert(
        "links".into(),
        links(base, &format!("portgroups/{}", p.uuid)),
    );
    if let Some(f) = fields {
        return select(m, f);
    }
    if v.at_least(24) {
        m.insert(
            "ports".into(),
            links(base, &format!("portgroups/{}/ports", p.uuid)),
        );
    }
    Value::Object(m)
}

fn set_field(p: &mut Portgroup, key: &str, val: &Value) -> Result<(), ApiError> {
    let r = Reader { res: "portgroup" };
    match key {
        "uuid" => {
            p.uuid = r
                .opt_uuid("uuid", val)?
                .unwrap_or_else(crate::model::new_uuid)
        }
        "address" => p.address = r.opt_mac("address", val)?,
        "node_uuid" => {
            p.node_uuid = r
                .opt_uuid("node_uuid", val)?
                .ok_or_else(|| r.required("node_uuid"))?
        }
        "name" => {
            p.name = r.opt_str(val, 255)?;
            if let Some(n) = &p.name {
                if !validate::is_valid_logical_name(n) {
                    return Err(ApiError::bad_request(format!(
                        "Cannot create portgroup with invalid name '{n}'"
                    )));
                }
            }
        }
        "standalone_ports_supported" => {
            p.standalone_ports_supported = if val.is_null() {
                true
            } else {
                r.bool(key, val)?
            }
        }
        "extra" => p.extra = r.obj(val)?,
        "mode" => {
            p.mode = r.opt_str(val, 255)?;
            if let Some(m) = &p.mode {
                if !MODES.contains(&m.as_str()) {
                    return Err(ApiError::bad_request(format!(
                        "Invalid portgroup mode {m}; valid modes are: {}",
                        MODES.join(", ")
                    )));
                }
            }
        }
        "properties" => p.properties = r.obj(val)?,
        "physical_network" => p.physical_network = r.opt_str(val, 64)?,
        "category" => p.category = r.opt_str(val, 80)?,
        other => return Err(r.unexpected(other)),
    }
    Ok(())
}

pub async fn find(state: &State, ident: &str, v: Version) -> Result<Portgroup, ApiError> {
    if !validate::is_uuid_like(ident) && !validate::is_valid_logical_name(ident) {
        return Err(ApiError::bad_request(format!(
            "Expected UUID or name for portgroup: {ident}"
        )));
    }
    let _ = v;
    let key = validate::normalize_uuid(ident).unwrap_or_else(|| ident.to_string());
    state
        .store
        .portgroup_get(key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Portgroup {ident} could not be found.")))
}

fn gate(v: Version) -> Result<(), ApiError> {
    if v.at_least(23) {
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
    list_groups(
        req,
        state,
        v,
        false,
        PortgroupFilter::default(),
        "portgroups".into(),
    )
    .await
}

pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    list_groups(
        req,
        state,
        v,
        true,
        PortgroupFilter::default(),
        "portgroups/detail".into(),
    )
    .await
}

/// `/v1/nodes/{id}/portgroups[/detail]` (1.24).
pub async fn list_for_node(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(24) {
        return Err(ApiError::unsupported_version());
    }
    let detail = req.path().trim_end_matches('/').ends_with("/detail");
    let n = super::nodes::find(&state, &path, v).await?;
    let f = PortgroupFilter {
        node_uuid: Some(n.uuid.clone()),
        ..Default::default()
    };
    let p = if detail {
        format!("nodes/{}/portgroups/detail", n.uuid)
    } else {
        format!("nodes/{}/portgroups", n.uuid)
    };
    list_groups(req, state, v, detail, f, p).await
}

async fn list_groups(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    detail_path: bool,
    mut f: PortgroupFilter,
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
                    "extra" | "internal_info" | "properties" | "node_uuid" | "dynamic_portgroup"
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
    if let Some(ident) = q.get("node") {
        f.node_uuid = Some(super::nodes::find(&state, ident, v).await?.uuid);
    }
    if q.gated("shard", v, 106)?.is_some() {
        f.shard = q.list("shard");
    }
    if q.gated("conductor_groups", v, 99)?.is_some() {
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
    let groups = state.store.portgroup_list(f, page).await?;
    let base = base_url(&req, &state);
    let fields = if p.detail {
        None
    } else {
        Some(
            p.fields
                .clone()
                .unwrap_or_else(|| vec!["uuid".into(), "address".into(), "name".into()]),
        )
    };
    let items: Vec<Value> = groups
        .iter()
        .map(|x| view(x, v, &base, fields.as_deref()))
        .collect();
    let mut body = json!({ "portgroups": items });
    if let Some(next) = next_link(
        &base,
        &path,
        &q,
        &p,
        groups.len(),
        groups.last().map(|x| x.uuid.as_str()),
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
    gate(v)?;
    let body = json_body(
        &req,
        payload,
        state.config.api.max_json_body_size,
        state.config.api.max_json_body_depth,
    )
    .await?;
    let r = Reader { res: "portgroup" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    for k in obj.keys() {
        if k != "uuid" && !PATCHABLE.contains(&k.as_str()) {
            return Err(r.unexpected(k));
        }
    }
    if obj.keys().any(|k| !visible(k, v)) {
        return Err(ApiError::not_acceptable());
    }
    let node_ident = obj
        .get("node_uuid")
        .ok_or_else(|| r.required("node_uuid"))?;
    let mut p = Portgroup {
        uuid: crate::model::new_uuid(),
        standalone_ports_supported: true,
        ..Default::default()
    };
    for (k, val) in obj {
        if k != "node_uuid" {
            set_field(&mut p, k, val)?;
        }
    }
    let ident = r.str(node_ident, 255)?;
    p.node_uuid = super::nodes::find(&state, &ident, v)
        .await
        .map_err(|e| ApiError::bad_request(e.message))?
        .uuid;
    let p = state.conductor.portgroup_create(p).await?;
    let base = base_url(&req, &state);
    Ok(created(
        &format!("{base}/v1/portgroups/{}", p.uuid),
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
    gate(v)?;
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
    let p = state.conductor.portgroup_update(old, new).await?;
    Ok(HttpResponse::Ok().json(view(&p, v, &base_url(&req, &state), None)))
}

pub async fn delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate(v)?;
    let p = find(&state, &path, v).await?;
    state.conductor.portgroup_delete(p).await?;
    Ok(HttpResponse::NoContent().finish())
}
