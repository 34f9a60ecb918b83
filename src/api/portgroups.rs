//! `/v1/portgroups` (1.23) and the node's portgroup list.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::Query;
use super::resource::{self, Ctx, Resource};
use super::views::{mac, Reader};
use super::State;
use crate::db::{Page, PortgroupFilter, StoreError};
use crate::model::portgroup::Portgroup;
use crate::model::validate;

impl Resource for Portgroup {
    const COLLECTION: &'static str = "portgroups";
    const FIELDS: &'static [(&'static str, u32)] = &[
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
    const MIN_VERSION: u32 = 23;
    const UNSORTABLE: &'static [&'static str] = &[
        "extra",
        "internal_info",
        "properties",
        "node_uuid",
        "dynamic_portgroup",
    ];
    const LIST_FIELDS: Option<&'static [&'static str]> = Some(&["uuid", "address", "name"]);
    const SUB_LINKS: &'static [(&'static str, u32)] = &[("ports", 24)];
    type Filter = PortgroupFilter;

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
        ]
        .into_iter()
        .map(|(k, val)| (k.to_string(), val))
        .collect()
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<Portgroup, ApiError> {
        let key = resource::uuid_or_name(ident, true, "portgroup")?;
        state
            .store
            .portgroup_get(key)
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Portgroup", ident))
    }

    async fn filter(
        state: &State,
        q: &Query,
        v: Version,
        f: &mut PortgroupFilter,
    ) -> Result<(), ApiError> {
        if let Some(a) = q.get("address") {
            f.address = Some(mac("address", a)?);
        }
        if let Some(ident) = q.get("node") {
            f.node_uuid = Some(super::nodes::find(state, ident, v).await?.uuid);
        }
        if q.gated("shard", v, 106)?.is_some() {
            f.shard = q.list("shard");
        }
        if q.gated("conductor_groups", v, 99)?.is_some() {
            f.conductor_groups = q
                .list("conductor_groups")
                .map(|l| l.into_iter().map(|g| g.to_ascii_lowercase()).collect());
        }
        Ok(())
    }

    async fn list(
        state: &State,
        f: PortgroupFilter,
        page: Page,
    ) -> Result<Vec<Portgroup>, StoreError> {
        state.store.portgroup_list(f, page).await
    }
}

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
                    return Err(ApiError::invalid_name("create", "portgroup", n));
                }
            }
        }
        "standalone_ports_supported" => p.standalone_ports_supported = r.bool_or(key, val, true)?,
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
    let n = super::nodes::find(&state, &path, v).await?;
    let (detail, at) = resource::nested(&req, format!("nodes/{}/portgroups", n.uuid));
    let f = PortgroupFilter {
        node_uuid: Some(n.uuid),
        ..Default::default()
    };
    resource::list_in::<Portgroup>(&req, &state, v, detail, f, &at).await
}

impl resource::Update for Portgroup {
    const RES: &'static str = "portgroup";

    fn patchable(_: Version) -> &'static [&'static str] {
        PATCHABLE
    }

    fn set_field(&mut self, key: &str, val: &Value, _: Version, _: &str) -> Result<(), ApiError> {
        set_field(self, key, val)
    }

    async fn save(
        state: &State,
        old: Portgroup,
        new: Portgroup,
        _: &[String],
        _: resource::PatchQuery,
    ) -> Result<Portgroup, ApiError> {
        Ok(state.conductor.portgroup_update(old, new).await?)
    }
}

impl resource::Create for Portgroup {
    /// `node_uuid` takes a node's name too: resolved after the other fields.
    const NOT_FIELDS: &'static [&'static str] = &["node_uuid"];

    fn new_default(_: Version) -> Portgroup {
        Portgroup {
            uuid: crate::model::new_uuid(),
            standalone_ports_supported: true,
            ..Default::default()
        }
    }

    fn check_create(obj: &Map<String, Value>, _: &Value, v: Version) -> Result<(), ApiError> {
        let r = Reader { res: "portgroup" };
        for k in obj.keys() {
            if k != "uuid" && !PATCHABLE.contains(&k.as_str()) {
                return Err(r.unexpected(k));
            }
        }
        if obj.keys().any(|k| !resource::visible::<Portgroup>(k, v)) {
            return Err(ApiError::not_acceptable());
        }
        if !obj.contains_key("node_uuid") {
            return Err(r.required("node_uuid"));
        }
        Ok(())
    }

    async fn after_fields(
        &mut self,
        state: &State,
        obj: &Map<String, Value>,
        v: Version,
    ) -> Result<(), ApiError> {
        let r = Reader { res: "portgroup" };
        let node_ident = obj
            .get("node_uuid")
            .ok_or_else(|| r.required("node_uuid"))?;
        let ident = r.str(node_ident, 255)?;
        self.node_uuid = super::nodes::find(state, &ident, v)
            .await
            .map_err(|e| ApiError::bad_request(e.message))?
            .uuid;
        Ok(())
    }

    async fn insert(state: &State, p: Portgroup) -> Result<Portgroup, ApiError> {
        Ok(state.conductor.portgroup_create(p).await?)
    }
}

impl resource::Delete for Portgroup {
    async fn delete(state: &State, p: Portgroup) -> Result<(), ApiError> {
        Ok(state.conductor.portgroup_delete(p).await?)
    }
}
