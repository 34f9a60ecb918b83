//! `/v1/ports` and the port lists nested under nodes and portgroups.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::Query;
use super::resource::{self, Ctx, Resource};
use super::views::{mac, Reader};
use super::State;
use crate::db::{Page, PortFilter, StoreError};
use crate::model::mac::Mac;
use crate::model::port::Port;
use crate::model::portgroup::Portgroup;
use crate::model::validate;

impl Resource for Port {
    const COLLECTION: &'static str = "ports";
    const FIELDS: &'static [(&'static str, u32)] = &[
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
    const UNSORTABLE: &'static [&'static str] = &[
        "extra",
        "internal_info",
        "local_link_connection",
        "node_uuid",
        "portgroup_uuid",
        "available_for_dynamic_portgroup",
    ];
    const LIST_FIELDS: Option<&'static [&'static str]> = Some(&["uuid", "address"]);
    type Filter = PortFilter;

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let p = self;
        let o = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
        [
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
        ]
        .into_iter()
        .map(|(k, val)| (k.to_string(), val))
        .collect()
    }

    async fn find(state: &State, ident: &str, v: Version) -> Result<Port, ApiError> {
        // Ports have names from 1.88.
        let key = resource::uuid_or_name(ident, v.at_least(88), "port_ident")?;
        state
            .store
            .port_get(key)
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Port", ident))
    }

    async fn filter(
        state: &State,
        q: &Query,
        v: Version,
        f: &mut PortFilter,
    ) -> Result<(), ApiError> {
        if let Some(a) = q.get("address") {
            f.address = Some(mac("address", a)?);
        }
        for key in ["node", "node_uuid"] {
            if let Some(ident) = q.get(key) {
                f.node_uuid = Some(super::nodes::find(state, ident, v).await?.uuid);
            }
        }
        if let Some(pg) = q.gated("portgroup", v, 24)? {
            f.portgroup_uuid = Some(Portgroup::find(state, pg, v).await?.uuid);
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
        Ok(())
    }

    async fn list(state: &State, f: PortFilter, page: Page) -> Result<Vec<Port>, StoreError> {
        state.store.port_list(f, page).await
    }
}

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

/// Ironic's OVN VTEP keys: accepted from 1.90, refused again from 1.105.
const VTEP_KEYS: [&str; 2] = ["vtep-logical-switch", "vtep-physical-switch"];

/// `local_link_connection`: Ironic's schema (known keys, string values, a usable combination),
/// and the keys newer than `v` refused with 406 as Ironic does (`network_type` 1.64, VTEP keys
/// 1.90 to 1.104).
fn check_llc(val: &Value, v: Version) -> Result<crate::model::JsonObject, ApiError> {
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
            "switch_id"
                | "port_id"
                | "switch_info"
                | "hostname"
                | "network_type"
                | "vtep-logical-switch"
                | "vtep-physical-switch"
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
    let vtep = VTEP_KEYS.iter().filter(|k| has(k)).count();
    if (has("network_type") && !v.at_least(64))
        || (vtep > 0 && (!v.at_least(90) || v.at_least(105)))
    {
        return Err(ApiError::not_acceptable());
    }
    if vtep == 1 {
        let [logical, physical] = VTEP_KEYS;
        let (given, missing) = if has(logical) {
            (logical, physical)
        } else {
            (physical, logical)
        };
        return Err(err(format!("'{missing}' is a dependency of '{given}'")));
    }
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
    if has("port_id") && vtep == 2 {
        return Ok(obj);
    }
    Err(err(
        "'port_id' and 'switch_id' (or 'hostname' for smart NICs) are required properties".into(),
    ))
}

fn set_field(p: &mut Port, key: &str, val: &Value, v: Version) -> Result<(), ApiError> {
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
        "local_link_connection" => p.local_link_connection = check_llc(val, v)?,
        "pxe_enabled" => p.pxe_enabled = r.bool_or(key, val, true)?,
        "physical_network" => p.physical_network = r.opt_str(val, 64)?,
        "is_smartnic" => p.is_smartnic = r.bool_or(key, val, false)?,
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

/// `/v1/nodes/{id}/ports[/detail]`.
pub async fn list_for_node(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = super::nodes::find(&state, &path, v).await?;
    let (detail, at) = resource::nested(&req, format!("nodes/{}/ports", n.uuid));
    let f = PortFilter {
        node_uuid: Some(n.uuid),
        ..Default::default()
    };
    resource::list_in::<Port>(&req, &state, v, detail, f, &at).await
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
    let pg = Portgroup::find(&state, &path, v).await?;
    let (detail, at) = resource::nested(&req, format!("portgroups/{}/ports", pg.uuid));
    let f = PortFilter {
        portgroup_uuid: Some(pg.uuid),
        ..Default::default()
    };
    resource::list_in::<Port>(&req, &state, v, detail, f, &at).await
}

impl resource::Update for Port {
    const RES: &'static str = "port";

    fn patchable(_: Version) -> &'static [&'static str] {
        PATCHABLE
    }

    fn set_field(&mut self, key: &str, val: &Value, v: Version, _: &str) -> Result<(), ApiError> {
        set_field(self, key, val, v)
    }

    async fn save(
        state: &State,
        old: Port,
        new: Port,
        _: &[String],
        _: resource::PatchQuery,
    ) -> Result<Port, ApiError> {
        Ok(state.conductor.port_update(old, new).await?)
    }
}

impl resource::Create for Port {
    /// `node_ident` (1.94) names the node by name or UUID instead of `node_uuid`.
    const NOT_FIELDS: &'static [&'static str] = &["node_ident"];

    fn new_default(_: Version) -> Port {
        Port {
            uuid: crate::model::new_uuid(),
            pxe_enabled: true,
            ..Default::default()
        }
    }

    fn check_create(obj: &Map<String, Value>, _: &Value, v: Version) -> Result<(), ApiError> {
        let r = Reader { res: "port" };
        for k in obj.keys() {
            if k != "uuid" && k != "node_ident" && !PATCHABLE.contains(&k.as_str()) {
                return Err(r.unexpected(k));
            }
        }
        if obj.keys().any(|k| {
            if k == "node_ident" {
                !v.at_least(94)
            } else {
                !resource::visible::<Port>(k, v)
            }
        }) {
            return Err(ApiError::not_acceptable());
        }
        if !obj.contains_key("address") {
            return Err(r.required("address"));
        }
        Ok(())
    }

    async fn before_fields(
        &mut self,
        state: &State,
        obj: &Map<String, Value>,
        body: &Value,
        v: Version,
    ) -> Result<(), ApiError> {
        match (obj.get("node_uuid"), obj.get("node_ident")) {
            (Some(_), Some(_)) => Err(ApiError::bad_request("Schema error for port: only one of node_uuid and node_ident may be given")),
            (None, None) => Err(ApiError::bad_request(format!(
                "Schema error for port: {} is not valid under any of the given schemas. Possible root cause: 'node_ident' is a required property",
                super::views::py_repr(body)
            ))),
            (None, Some(ident)) => {
                let ident = Reader { res: "port" }.str(ident, 255)?;
                let n = super::nodes::find(state, &ident, v).await.map_err(|e| ApiError::bad_request(e.message))?;
                self.node_uuid = n.uuid;
                Ok(())
            }
            (Some(_), None) => Ok(()),
        }
    }

    async fn insert(state: &State, p: Port) -> Result<Port, ApiError> {
        Ok(state.conductor.port_create(p).await?)
    }
}

impl resource::Delete for Port {
    async fn delete(state: &State, p: Port) -> Result<(), ApiError> {
        Ok(state.conductor.port_delete(p).await?)
    }
}
