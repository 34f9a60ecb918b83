//! `/v1/nodes`: CRUD, JSON patch, maintenance, states, validate, traits, history and the
//! node's sub-collections. Fields appear and disappear by microversion per `FIELDS`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::{json_body, parse_bool, ListParams, Query};
use super::views::{self, py_repr, Reader};
use super::{base_url, created, State};
use crate::db::{NodeFilter, Page};
use crate::model::node::{Node, INTERFACE_KINDS};
use crate::model::{states, validate};

/// Every node field and the microversion that introduced it.
pub const FIELDS: &[(&str, u32)] = &[
    ("uuid", 1),
    ("created_at", 1),
    ("updated_at", 1),
    ("chassis_uuid", 1),
    ("driver", 1),
    ("driver_info", 1),
    ("extra", 1),
    ("instance_info", 1),
    ("instance_uuid", 1),
    ("last_error", 1),
    ("maintenance", 1),
    ("maintenance_reason", 1),
    ("power_state", 1),
    ("properties", 1),
    ("provision_state", 1),
    ("provision_updated_at", 1),
    ("reservation", 1),
    ("target_power_state", 1),
    ("target_provision_state", 1),
    ("console_enabled", 1),
    ("driver_internal_info", 3),
    ("name", 5),
    ("inspection_started_at", 6),
    ("inspection_finished_at", 6),
    ("clean_step", 7),
    ("raid_config", 12),
    ("target_raid_config", 12),
    ("network_interface", 20),
    ("resource_class", 21),
    ("boot_interface", 31),
    ("console_interface", 31),
    ("deploy_interface", 31),
    ("inspect_interface", 31),
    ("management_interface", 31),
    ("power_interface", 31),
    ("raid_interface", 31),
    ("vendor_interface", 31),
    ("storage_interface", 33),
    ("traits", 37),
    ("rescue_interface", 38),
    ("bios_interface", 40),
    ("fault", 42),
    ("deploy_step", 44),
    ("conductor_group", 46),
    ("automated_clean", 47),
    ("protected", 48),
    ("protected_reason", 48),
    ("conductor", 49),
    ("owner", 50),
    ("description", 51),
    ("allocation_uuid", 52),
    ("retired", 61),
    ("retired_reason", 61),
    ("lessee", 65),
    ("network_data", 66),
    ("boot_mode", 75),
    ("secure_boot", 75),
    ("shard", 82),
    ("parent_node", 83),
    ("firmware_interface", 86),
    ("service_step", 87),
    ("disable_power_off", 95),
    ("instance_name", 104),
    ("health", 109),
];

/// Roots a PATCH may touch, in Ironic's order (it is quoted in the error message).
pub const PATCHABLE: &[&str] = &[
    "automated_clean",
    "bios_interface",
    "boot_interface",
    "chassis_uuid",
    "conductor_group",
    "console_interface",
    "deploy_interface",
    "description",
    "disable_power_off",
    "driver",
    "driver_info",
    "extra",
    "inspect_interface",
    "instance_info",
    "instance_name",
    "instance_uuid",
    "lessee",
    "maintenance",
    "management_interface",
    "name",
    "network_data",
    "network_interface",
    "owner",
    "power_interface",
    "properties",
    "protected",
    "protected_reason",
    "raid_interface",
    "rescue_interface",
    "resource_class",
    "retired",
    "retired_reason",
    "shard",
    "storage_interface",
    "vendor_interface",
    "parent_node",
    "firmware_interface",
];

/// Keys accepted by POST (PATCHABLE + uuid; `maintenance_reason` is not in Ironic's schema).
fn creatable(k: &str) -> bool {
    k == "uuid" || PATCHABLE.contains(&k)
}

const LIST_FIELDS: &[&str] = &[
    "instance_uuid",
    "maintenance",
    "power_state",
    "provision_state",
    "uuid",
    "name",
];

/// JSON blobs and computed fields cannot be sort keys.
const UNSORTABLE: &[&str] = &[
    "properties",
    "driver_info",
    "extra",
    "instance_info",
    "driver_internal_info",
    "clean_step",
    "deploy_step",
    "service_step",
    "raid_config",
    "target_raid_config",
    "traits",
    "network_data",
    "chassis_uuid",
    "conductor",
    "allocation_uuid",
];

pub fn field_version(name: &str) -> Option<u32> {
    FIELDS.iter().find(|(f, _)| *f == name).map(|(_, v)| *v)
}

fn visible(name: &str, v: Version) -> bool {
    field_version(name).is_some_and(|min| v.at_least(min))
}

/// A node field's value, borrowed from the node (no copies on the response path).
enum Field<'a> {
    Str(&'a str),
    Opt(Option<&'a str>),
    Bool(bool),
    OptBool(Option<bool>),
    Obj(&'a crate::model::JsonObject),
    /// Secrets replaced by `******` while writing.
    Masked(&'a crate::model::JsonObject, bool),
    List(&'a [String]),
}

impl serde::Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Str(x) => s.serialize_str(x),
            Field::Opt(x) => x.serialize(s),
            Field::Bool(b) => s.serialize_bool(*b),
            Field::OptBool(b) => b.serialize(s),
            Field::Obj(o) => o.serialize(s),
            Field::Masked(o, instance_info) => views::Masked {
                obj: o,
                instance_info: *instance_info,
            }
            .serialize(s),
            Field::List(l) => l.serialize(s),
        }
    }
}

impl Field<'_> {
    fn to_value(&self) -> Value {
        match self {
            Field::Masked(o, _) => Value::Object((*o).clone()),
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        }
    }
}

/// Every field visible at version `v`, in one walk: the single list both responses and
/// PATCH documents are built from.
fn for_each_field<'a>(
    n: &'a Node,
    v: Version,
    conductor: Option<&'a str>,
    mut f: impl FnMut(&'static str, Field<'a>),
) {
    let mut put = |k: &'static str, val: Field<'a>| {
        if visible(k, v) {
            f(k, val);
        }
    };
    use Field::*;
    let o = |x: &'a Option<String>| Opt(x.as_deref());
    put("uuid", Str(&n.uuid));
    put("created_at", Str(&n.created_at));
    put("updated_at", o(&n.updated_at));
    put("chassis_uuid", o(&n.chassis_uuid));
    put("driver", Str(&n.driver));
    put("driver_info", Masked(&n.driver_info, false));
    put(
        "driver_internal_info",
        Masked(&n.driver_internal_info, false),
    );
    put("extra", Obj(&n.extra));
    put("instance_info", Masked(&n.instance_info, true));
    put("instance_uuid", o(&n.instance_uuid));
    put("instance_name", o(&n.instance_name));
    put("last_error", o(&n.last_error));
    put("maintenance", Bool(n.maintenance));
    put("maintenance_reason", o(&n.maintenance_reason));
    put("fault", o(&n.fault));
    put("power_state", o(&n.power_state));
    put("target_power_state", o(&n.target_power_state));
    put("properties", Obj(&n.properties));
    // Below 1.2 `available` was shown as null; below 1.39 `inspect wait` as `inspecting`.
    put(
        "provision_state",
        match n.provision_state.as_str() {
            states::AVAILABLE if !v.at_least(2) => Opt(None),
            states::INSPECT_WAIT if !v.at_least(39) => Str(states::INSPECTING),
            s => Str(s),
        },
    );
    put("target_provision_state", o(&n.target_provision_state));
    put("provision_updated_at", o(&n.provision_updated_at));
    put("reservation", o(&n.reservation));
    put("console_enabled", Bool(n.console_enabled));
    put("name", o(&n.name));
    put("inspection_started_at", o(&n.inspection_started_at));
    put("inspection_finished_at", o(&n.inspection_finished_at));
    put("clean_step", Obj(&n.clean_step));
    put("deploy_step", Obj(&n.deploy_step));
    put("service_step", Obj(&n.service_step));
    put("raid_config", Obj(&n.raid_config));
    put("target_raid_config", Obj(&n.target_raid_config));
    put("resource_class", o(&n.resource_class));
    for (i, kind) in INTERFACE_KINDS.iter().enumerate() {
        put(INTERFACE_FIELDS[i], Opt(n.interfaces.get(kind)));
    }
    put("traits", List(&n.traits));
    put("conductor_group", Str(&n.conductor_group));
    put("automated_clean", OptBool(n.automated_clean));
    put("protected", Bool(n.protected));
    put("protected_reason", o(&n.protected_reason));
    put("conductor", Opt(conductor));
    put("owner", o(&n.owner));
    put("lessee", o(&n.lessee));
    put("description", o(&n.description));
    put("allocation_uuid", o(&n.allocation_uuid));
    put("retired", Bool(n.retired));
    put("retired_reason", o(&n.retired_reason));
    put("network_data", Obj(&n.network_data));
    put("boot_mode", o(&n.boot_mode));
    put("secure_boot", OptBool(n.secure_boot));
    put("shard", o(&n.shard));
    put("parent_node", o(&n.parent_node));
    put("disable_power_off", Bool(n.disable_power_off));
    put("health", o(&n.health));
}

/// `<kind>_interface` field names, in INTERFACE_KINDS order.
const INTERFACE_FIELDS: [&str; 13] = [
    "bios_interface",
    "boot_interface",
    "console_interface",
    "deploy_interface",
    "firmware_interface",
    "inspect_interface",
    "management_interface",
    "network_interface",
    "power_interface",
    "raid_interface",
    "rescue_interface",
    "storage_interface",
    "vendor_interface",
];

/// The node as the client sees it at version `v`, unmasked and without links: the document a
/// PATCH applies to.
fn raw_json(n: &Node, v: Version, conductor: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    for_each_field(n, v, conductor, |k, val| {
        m.insert(k.to_string(), val.to_value());
    });
    m
}

/// The response view of one node, serialized straight from the node.
struct View<'a> {
    node: &'a Node,
    v: Version,
    base: &'a str,
    conductor: Option<&'a str>,
    fields: Option<&'a [String]>,
}

impl serde::Serialize for View<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        let mut m = s.serialize_map(None)?;
        let mut err = None;
        for_each_field(self.node, self.v, self.conductor, |k, val| {
            if err.is_none() && self.fields.is_none_or(|f| f.iter().any(|x| x == k)) {
                err = m.serialize_entry(k, &val).err();
            }
        });
        if let Some(e) = err {
            return Err(S::Error::custom(e));
        }
        let u = &self.node.uuid;
        m.serialize_entry(
            "links",
            &views::Links {
                base: self.base,
                path: &["nodes/", u],
            },
        )?;
        if self.fields.is_none() {
            m.serialize_entry(
                "ports",
                &views::Links {
                    base: self.base,
                    path: &["nodes/", u, "/ports"],
                },
            )?;
            if self.v.at_least(14) {
                m.serialize_entry(
                    "states",
                    &views::Links {
                        base: self.base,
                        path: &["nodes/", u, "/states"],
                    },
                )?;
            }
            if self.v.at_least(24) {
                m.serialize_entry(
                    "portgroups",
                    &views::Links {
                        base: self.base,
                        path: &["nodes/", u, "/portgroups"],
                    },
                )?;
            }
            if self.v.at_least(32) {
                m.serialize_entry(
                    "volume",
                    &views::Links {
                        base: self.base,
                        path: &["nodes/", u, "/volume"],
                    },
                )?;
            }
        }
        m.end()
    }
}

/// Full view: masked secrets, links and (without `fields`) the sub-resource links.
fn view(
    n: &Node,
    v: Version,
    base: &str,
    conductor: Option<&str>,
    fields: Option<&[String]>,
) -> Value {
    serde_json::to_value(View {
        node: n,
        v,
        base,
        conductor,
        fields,
    })
    .unwrap_or(Value::Null)
}

/// 200 with a JSON body serialized in one pass.
fn json_response<T: serde::Serialize>(body: &T) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes))
}

/// Check `?fields=`: every name must be a node field visible at this version.
pub fn check_fields(
    fields: &[String],
    v: Version,
    known: impl Fn(&str) -> Option<u32>,
) -> Result<(), ApiError> {
    let unknown: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|f| known(f).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Field(s) \"{}\" are not valid",
            unknown.join(", ")
        )));
    }
    if fields
        .iter()
        .any(|f| known(f).is_some_and(|min| !v.at_least(min)))
    {
        return Err(ApiError::not_acceptable());
    }
    Ok(())
}

fn check_sort_key(key: &str, v: Version) -> Result<(), ApiError> {
    if key == "id" {
        return Ok(());
    }
    match field_version(key) {
        None => Err(ApiError::bad_request(format!(
            "The sort_key value \"{key}\" is an invalid field for sorting"
        ))),
        Some(_) if UNSORTABLE.contains(&key) => Err(ApiError::bad_request(format!(
            "The sort_key value {key} is an invalid field for sorting"
        ))),
        Some(min) if !v.at_least(min) => Err(ApiError::not_acceptable()),
        Some(_) => Ok(()),
    }
}

/// Resolve `{node_ident}`: a UUID, or (from 1.5) a logical name.
pub async fn find(state: &State, ident: &str, v: Version) -> Result<Node, ApiError> {
    let not_found = || ApiError::not_found(format!("Node {ident} could not be found."));
    if !validate::is_uuid_like(ident) {
        if !v.at_least(5) {
            return Err(not_found());
        }
        if !validate::is_valid_logical_name(ident) {
            return Err(ApiError::bad_request(format!(
                "Expected UUID or name for node: {ident}"
            )));
        }
    }
    let key = validate::normalize_uuid(ident).unwrap_or_else(|| ident.to_string());
    state.store.node_get(key).await?.ok_or_else(not_found)
}

fn check_name(name: &str, v: Version, verb: &str) -> Result<(), ApiError> {
    let ok = if v.at_least(10) {
        validate::is_valid_logical_name(name)
    } else {
        validate::is_hostname_safe(name)
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Cannot {verb} node with invalid name '{name}'"
        )))
    }
}

/// Set one writable field on `n` from its JSON value (null = the field's default).
fn set_field(n: &mut Node, key: &str, val: &Value, v: Version, verb: &str) -> Result<(), ApiError> {
    let r = Reader { res: "node" };
    match key {
        "uuid" => {
            n.uuid = r
                .opt_uuid("uuid", val)?
                .unwrap_or_else(crate::model::new_uuid)
        }
        "name" => {
            n.name = r.opt_str(val, 255).or_else(|e| match val {
                Value::String(s) => Err(ApiError::bad_request(format!(
                    "Cannot {verb} node with invalid name '{s}'"
                ))),
                _ => Err(e),
            })?;
            if let Some(name) = &n.name {
                check_name(name, v, verb)?;
            }
        }
        "driver" => n.driver = r.str(val, 255)?,
        "driver_info" => n.driver_info = r.obj(val)?,
        "properties" => n.properties = r.obj(val)?,
        "instance_info" => n.instance_info = r.obj(val)?,
        "extra" => n.extra = r.obj(val)?,
        "network_data" => n.network_data = r.obj(val)?,
        "instance_uuid" => n.instance_uuid = r.opt_uuid("instance_uuid", val)?,
        "instance_name" => n.instance_name = r.opt_str(val, 255)?,
        "chassis_uuid" => {
            let c = r.opt_uuid("chassis_uuid", val)?;
            if c.is_none() && n.chassis_uuid.is_some() && !v.at_least(25) {
                return Err(ApiError::bad_request(
                    "Removing chassis_uuid requires API version 1.25 or later",
                ));
            }
            n.chassis_uuid = c;
        }
        "resource_class" => n.resource_class = r.opt_str(val, 80)?,
        "conductor_group" => {
            let g = r.opt_str(val, 255)?.unwrap_or_default();
            if !validate::is_valid_conductor_group(&g) {
                return Err(ApiError::bad_request(format!(
                    "Schema error for node: {} does not match '^[a-zA-Z0-9_\\\\-\\\\.]*$'",
                    py_repr(val)
                )));
            }
            n.conductor_group = g.to_ascii_lowercase();
        }
        "automated_clean" => n.automated_clean = r.opt_bool(key, val)?,
        "maintenance" => n.maintenance = !val.is_null() && r.bool(key, val)?,
        "protected" => {
            n.protected = if val.is_null() {
                false
            } else {
                r.bool(key, val)?
            }
        }
        "protected_reason" => n.protected_reason = r.opt_str(val, 255)?,
        "retired" => {
            n.retired = if val.is_null() {
                false
            } else {
                r.bool(key, val)?
            }
        }
        "retired_reason" => n.retired_reason = r.opt_str(val, 255)?,
        "disable_power_off" => {
            n.disable_power_off = if val.is_null() {
                false
            } else {
                r.bool(key, val)?
            }
        }
        "owner" => n.owner = r.opt_str(val, 255)?,
        "lessee" => n.lessee = r.opt_str(val, 255)?,
        "description" => n.description = r.opt_str(val, 4096)?,
        "shard" => n.shard = r.opt_str(val, 255)?,
        "parent_node" => n.parent_node = r.opt_str(val, 255)?,
        k if k.ends_with("_interface") => {
            let kind = k.trim_end_matches("_interface");
            n.interfaces.set(kind, r.opt_str(val, 255)?);
        }
        other => return Err(r.unexpected(other)),
    }
    Ok(())
}

fn conductor_of<'a>(state: &'a State, n: &Node) -> Option<&'a str> {
    state.conductor.owner_of(&n.conductor_group, &n.uuid)
}

// ---------------------------------------------------------------------------------------
// Handlers

pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    list_nodes(req, state, v, false, None).await
}

pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    list_nodes(req, state, v, true, None).await
}

/// Node list, also used for `/v1/chassis/{id}/nodes` (with `chassis` set).
pub async fn list_nodes(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    detail_path: bool,
    chassis: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let p = ListParams::parse(&q, v, &state, detail_path)?;
    check_sort_key(&p.sort_key, v)?;
    if let Some(f) = &p.fields {
        check_fields(f, v, field_version)?;
    }
    let mut f = NodeFilter {
        chassis_uuid: chassis,
        ..Default::default()
    };
    if let Some(s) = q.gated("provision_state", v, 9)? {
        if !states::ALL_PROVISION_STATES.contains(&s) {
            return Err(ApiError::bad_request(format!(
                "Provision state \"{s}\" is not valid"
            )));
        }
        f.provision_state = Some(s.to_string());
    }
    f.driver = q.gated("driver", v, 16)?.map(str::to_string);
    f.resource_class = q.gated("resource_class", v, 21)?.map(str::to_string);
    if let Some(fault) = q.gated("fault", v, 42)? {
        if !states::FAULTS.contains(&fault) {
            return Err(ApiError::bad_request(format!(
                "Unknown fault: {fault}. Valid faults are: {}",
                states::FAULTS.join(", ")
            )));
        }
        f.fault = Some(fault.to_string());
    }
    f.conductor_group = q
        .gated("conductor_group", v, 46)?
        .map(|s| s.to_ascii_lowercase());
    if let Some(c) = q.gated("conductor", v, 49)? {
        // A ring of one: this conductor owns its own group's nodes; any other name owns none.
        f.conductor_groups = Some(if c == state.conductor.host() {
            vec![state.config.file.conductor.conductor_group.clone()]
        } else {
            vec![]
        });
    }
    f.owner = q.gated("owner", v, 50)?.map(str::to_string);
    f.description_contains = q.gated("description_contains", v, 51)?.map(str::to_string);
    f.lessee = q.gated("lessee", v, 65)?.map(str::to_string);
    f.project = q.gated("project", v, 65)?.map(str::to_string);
    if q.gated("shard", v, 82)?.is_some() {
        f.shard = q.list("shard");
    }
    f.sharded = q
        .gated("sharded", v, 82)?
        .map(|s| parse_bool("sharded", s))
        .transpose()?;
    if let Some(p) = q.gated("parent_node", v, 83)? {
        let parent = find(&state, p, v)
            .await
            .map_err(|_| ApiError::bad_request(format!("Node {p} could not be found.")))?;
        f.parent_node = Some(parent.uuid);
    }
    f.include_children = q
        .gated("include_children", v, 83)?
        .map(|s| parse_bool("include_children", s))
        .transpose()?
        .unwrap_or(false);
    f.instance_name = q.gated("instance_name", v, 104)?.map(str::to_string);
    f.maintenance = q.bool("maintenance")?;
    f.associated = q.bool("associated")?;
    f.retired = q
        .gated("retired", v, 61)?
        .map(|s| parse_bool("retired", s))
        .transpose()?;
    if let Some(i) = q.get("instance_uuid") {
        f.instance_uuid = Some(validate::normalize_uuid(i).ok_or_else(|| {
            ApiError::bad_request(format!("Expected UUID for instance_uuid: {i}"))
        })?);
    }
    if let Some(c) = q.get("chassis_uuid") {
        f.chassis_uuid = Some(validate::normalize_uuid(c).ok_or_else(|| {
            ApiError::bad_request(format!("Expected UUID for chassis_uuid: {c}"))
        })?);
    }
    let page = Page {
        limit: p.limit,
        marker: p.marker.clone(),
        sort_key: p.sort_key.clone(),
        descending: p.descending(),
    };
    let nodes = state.store.node_list(f, page).await?;
    let base = base_url(&req, &state);
    let default_fields: Vec<String> = LIST_FIELDS
        .iter()
        .filter(|f| visible(f, v))
        .map(|s| s.to_string())
        .collect();
    let fields = if p.detail {
        None
    } else {
        Some(p.fields.clone().unwrap_or_else(|| default_fields.clone()))
    };
    let items: Vec<View> = nodes
        .iter()
        .map(|n| View {
            node: n,
            v,
            base: &base,
            conductor: conductor_of(&state, n),
            fields: fields.as_deref(),
        })
        .collect();
    let path = if detail_path { "nodes/detail" } else { "nodes" };
    let next = if q.get("instance_uuid").is_none() {
        next_link(
            &base,
            path,
            &q,
            &p,
            nodes.len(),
            nodes.last().map(|n| n.uuid.as_str()),
            fields.as_deref(),
        )
    } else {
        None
    };
    #[derive(serde::Serialize)]
    struct Body<'a> {
        nodes: Vec<View<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    }
    json_response(&Body { nodes: items, next })
}

/// `next` link: present only when the page is full.
pub fn next_link(
    base: &str,
    path: &str,
    q: &Query,
    p: &ListParams,
    count: usize,
    last: Option<&str>,
    fields: Option<&[String]>,
) -> Option<String> {
    let last = last?;
    if count < p.limit as usize {
        return None;
    }
    let mut pairs: Vec<(String, String)> = vec![
        ("sort_key".into(), p.sort_key.clone()),
        ("sort_dir".into(), p.sort_dir.clone()),
    ];
    if let Some(f) = fields {
        pairs.push(("fields".into(), f.join(",")));
    }
    for (k, val) in q.pairs() {
        if !matches!(
            k.as_str(),
            "sort_key" | "sort_dir" | "fields" | "limit" | "marker"
        ) && !pairs.iter().any(|(pk, _)| pk == k)
        {
            pairs.push((k.clone(), val.clone()));
        }
    }
    pairs.push(("limit".into(), p.limit.to_string()));
    pairs.push(("marker".into(), last.to_string()));
    let qs = serde_urlencoded::to_string(&pairs)
        .ok()?
        .replace("%2C", ",");
    Some(format!("{base}/v1/{path}?{qs}"))
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let fields = match q.get("fields") {
        Some(_) if !v.at_least(8) => return Err(ApiError::not_acceptable()),
        Some(f) => Some(
            f.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>(),
        ),
        None => None,
    };
    if let Some(f) = &fields {
        check_fields(f, v, field_version)?;
    }
    let n = find(&state, &path, v).await?;
    let base = base_url(&req, &state);
    json_response(&View {
        node: &n,
        v,
        base: &base,
        conductor: conductor_of(&state, &n),
        fields: fields.as_deref(),
    })
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
        state.config.file.api.max_json_body_size,
        state.config.file.api.max_json_body_depth,
    )
    .await?;
    let r = Reader { res: "node" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    for k in obj.keys() {
        if !creatable(k) {
            return Err(r.unexpected(k));
        }
    }
    if obj.keys().any(|k| !visible(k, v)) {
        return Err(ApiError::not_acceptable());
    }
    if !obj.contains_key("driver") {
        return Err(r.required("driver"));
    }
    let mut n = Node {
        uuid: crate::model::new_uuid(),
        // Before 1.11 new nodes went straight to `available`.
        provision_state: if v.at_least(11) {
            states::ENROLL
        } else {
            states::AVAILABLE
        }
        .to_string(),
        ..Default::default()
    };
    for (k, val) in obj {
        set_field(&mut n, k, val, v, "create")?;
    }
    let n = state.conductor.node_create(n).await?;
    let base = base_url(&req, &state);
    Ok(created(
        &format!("{base}/v1/nodes/{}", n.uuid),
        view(&n, v, &base, conductor_of(&state, &n), None),
    ))
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let reset = match q.gated("reset_interfaces", v, 45)? {
        Some(s) => parse_bool("reset_interfaces", s)?,
        None => false,
    };
    let body = json_body(
        &req,
        payload,
        state.config.file.api.max_json_body_size,
        state.config.file.api.max_json_body_depth,
    )
    .await?;
    let old = find(&state, &path, v).await?;
    let doc = raw_json(&old, v, None);
    let (after, changed) = super::patch::apply(doc, &body, PATCHABLE, |root| visible(root, v))?;
    // `add` of an instance_uuid over a different one is NodeAssociated (checked by the conductor).
    let mut new = old.clone();
    for k in &changed {
        set_field(
            &mut new,
            k,
            after.get(k).unwrap_or(&Value::Null),
            v,
            "update",
        )?;
    }
    let n = state
        .conductor
        .node_update(old, new, &changed, reset)
        .await?;
    let base = base_url(&req, &state);
    Ok(HttpResponse::Ok().json(view(&n, v, &base, conductor_of(&state, &n), None)))
}

pub async fn delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = find(&state, &path, v).await?;
    state.conductor.node_delete(n).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn maintenance_set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let has_body = req
        .headers()
        .get("content-length")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l != "0")
        || req.headers().contains_key("transfer-encoding");
    let mut reason = q.get("reason").map(str::to_string);
    if has_body {
        let body = json_body(
            &req,
            payload,
            state.config.file.api.max_json_body_size,
            state.config.file.api.max_json_body_depth,
        )
        .await?;
        if let Some(o) = body.as_object() {
            if let Some(k) = o.keys().find(|k| *k != "reason") {
                return Err(ApiError::bad_request(format!("Unknown argument: \"{k}\"")));
            }
            if let Some(r) = o.get("reason") {
                reason = Reader { res: "body" }.opt_str(r, 255)?;
            }
        } else if !body.is_null() {
            return Err(Reader { res: "body" }.not_object(&body));
        }
    }
    let n = find(&state, &path, v).await?;
    state
        .conductor
        .node_set_maintenance(n, true, reason)
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

pub async fn maintenance_unset(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = find(&state, &path, v).await?;
    state.conductor.node_set_maintenance(n, false, None).await?;
    Ok(HttpResponse::Accepted().finish())
}

pub async fn states(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = find(&state, &path, v).await?;
    let full = raw_json(&n, v, None);
    let mut keys = vec![
        "console_enabled",
        "last_error",
        "power_state",
        "provision_state",
        "target_power_state",
        "target_provision_state",
        "provision_updated_at",
    ];
    if v.at_least(12) {
        keys.extend(["raid_config", "target_raid_config"]);
    }
    if v.at_least(75) {
        keys.extend(["boot_mode", "secure_boot"]);
    }
    let body: Map<String, Value> = keys
        .iter()
        .filter_map(|k| full.get(*k).map(|x| (k.to_string(), x.clone())))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

pub async fn validate(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = find(&state, &path, v).await?;
    let mut out = Map::new();
    for (kind, result) in state.conductor.node_validate(&n).await? {
        let min = field_version(&format!("{kind}_interface")).unwrap_or(1);
        if !v.at_least(min.min(31))
            && !matches!(
                kind,
                "boot" | "deploy" | "power" | "console" | "management" | "inspect" | "raid"
            )
        {
            continue;
        }
        let mut r = Map::new();
        r.insert("result".into(), json!(result.ok));
        if let Some(reason) = result.reason {
            r.insert("reason".into(), json!(reason));
        }
        out.insert(kind.to_string(), Value::Object(r));
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /v1/nodes/validate?node=<ident>`: the old form of validate.
pub async fn validate_query(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let ident = q
        .get("node")
        .ok_or_else(|| ApiError::bad_request("Missing argument: \"node\""))?
        .to_string();
    validate(state, v, web::Path::from(ident)).await
}

fn check_trait(t: &str, res: &str) -> Result<(), ApiError> {
    if validate::is_valid_trait(t) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "Schema error for {res}: {} is not valid under any of the given schemas. Possible root cause: {} does not match '^CUSTOM_[A-Z0-9_]+$'",
        py_repr(&json!(t)), py_repr(&json!(t))
    )))
}

pub async fn traits_get(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let n = find(&state, &path, v).await?;
    Ok(HttpResponse::Ok().json(json!({ "traits": n.traits })))
}

pub async fn traits_set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let body = json_body(
        &req,
        payload,
        state.config.file.api.max_json_body_size,
        state.config.file.api.max_json_body_depth,
    )
    .await?;
    let r = Reader { res: "body" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    if let Some(k) = obj.keys().find(|k| *k != "traits") {
        return Err(r.unexpected(k));
    }
    let list = obj.get("traits").ok_or_else(|| r.required("traits"))?;
    let arr = list.as_array().ok_or_else(|| {
        ApiError::bad_request(format!(
            "Schema error for body: {} is not of type 'array'",
            py_repr(list)
        ))
    })?;
    if arr.len() > crate::conductor::MAX_TRAITS {
        return Err(ApiError::bad_request(format!(
            "Schema error for body: {} is too long",
            py_repr(list)
        )));
    }
    let mut traits = Vec::new();
    for t in arr {
        let s = t.as_str().ok_or_else(|| {
            ApiError::bad_request(format!(
                "Schema error for body: {} is not of type 'string'",
                py_repr(t)
            ))
        })?;
        check_trait(s, "body")?;
        if !traits.iter().any(|x| x == s) {
            traits.push(s.to_string());
        }
    }
    let n = find(&state, &path, v).await?;
    state.conductor.node_set_traits(&n, traits).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn trait_add(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let (ident, t) = path.into_inner();
    check_trait(&t, "trait")?;
    let n = find(&state, &ident, v).await?;
    state.conductor.node_add_trait(&n, t.clone()).await?;
    let base = base_url(&req, &state);
    Ok(HttpResponse::NoContent()
        .insert_header(("Location", format!("{base}/v1/nodes/{}/traits/{t}", n.uuid)))
        .finish())
}

pub async fn traits_delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let n = find(&state, &path, v).await?;
    state.conductor.node_remove_trait(&n, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn trait_delete(
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(37) {
        return Err(ApiError::not_acceptable());
    }
    let (ident, t) = path.into_inner();
    let n = find(&state, &ident, v).await?;
    state.conductor.node_remove_trait(&n, Some(t)).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn history_view(
    e: &crate::model::history::HistoryEvent,
    v: Version,
    base: &str,
    detail: bool,
) -> Value {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(e.uuid));
    m.insert("created_at".into(), json!(e.created_at));
    m.insert("severity".into(), json!(e.severity));
    m.insert("event".into(), json!(e.event));
    if detail {
        m.insert("event_type".into(), json!(e.event_type));
        m.insert("conductor".into(), json!(e.conductor));
        m.insert("user".into(), json!(e.user));
        if v.at_least(113) {
            m.insert("project".into(), Value::Null);
        }
        if v.at_least(115) {
            m.insert("state".into(), json!(e.state));
            m.insert(
                "target_provision_state".into(),
                json!(e.target_provision_state),
            );
            m.insert(
                "duration_seconds".into(),
                json!(e.duration_seconds.map(|d| d.round() as i64).unwrap_or(0)),
            );
        }
    }
    m.insert("links".into(), json!([{"href": format!("{base}/v1/nodes/{}/history/{}", e.node_uuid, e.uuid), "rel": "self"}]));
    Value::Object(m)
}

pub async fn history(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(78) {
        return Err(ApiError::unknown_path());
    }
    let q = Query::parse(&req)?;
    let p = ListParams::parse(&q, v, &state, false)?;
    let n = find(&state, &path, v).await?;
    let events = state
        .store
        .history_list(n.uuid.clone(), p.marker.clone(), p.limit)
        .await
        .map_err(|e| match e {
            crate::db::StoreError::NotFound { id, .. } => {
                ApiError::not_found(format!("Node history record {id} could not be found."))
            }
            other => other.into(),
        })?;
    let base = base_url(&req, &state);
    let items: Vec<Value> = events
        .iter()
        .map(|e| history_view(e, v, &base, p.detail))
        .collect();
    let mut body = json!({ "history": items });
    if events.len() == p.limit as usize {
        if let Some(last) = events.last() {
            body["next"] = json!(format!(
                "{base}/v1/nodes/{}/history?limit={}&marker={}",
                n.uuid, p.limit, last.uuid
            ));
        }
    }
    Ok(HttpResponse::Ok().json(body))
}

pub async fn history_get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(78) {
        return Err(ApiError::unknown_path());
    }
    let (ident, id) = path.into_inner();
    let n = find(&state, &ident, v).await?;
    let e = state
        .store
        .history_get(n.uuid, id.clone())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("Node history record {id} could not be found."))
        })?;
    Ok(HttpResponse::Ok().json(history_view(&e, v, &base_url(&req, &state), true)))
}

fn bios_view(
    uuid: &str,
    base: &str,
    v: Version,
    detail: bool,
    (name, value, created, updated): &crate::db::BiosRow,
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("value".into(), json!(value));
    m.insert(
        "links".into(),
        views::links(base, &format!("nodes/{uuid}/bios/{name}")),
    );
    m.insert("created_at".into(), json!(created));
    m.insert("updated_at".into(), json!(updated));
    // Registry fields (1.74, with detail): unknown for settings applied by name.
    if detail && v.at_least(74) {
        for k in [
            "attribute_type",
            "allowable_values",
            "lower_bound",
            "max_length",
            "min_length",
            "read_only",
            "reset_required",
            "unique",
            "upper_bound",
        ] {
            m.insert(k.into(), Value::Null);
        }
    }
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
    let detail = match q.get("detail") {
        Some(d) if v.at_least(74) => parse_bool("detail", d)?,
        Some(_) => return Err(ApiError::not_acceptable()),
        None => false,
    };
    let n = find(&state, &path, v).await?;
    let base = base_url(&req, &state);
    let rows = state.store.bios_list(n.id).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|r| bios_view(&n.uuid, &base, v, detail, r))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "bios": items })))
}

/// `GET /v1/nodes/{id}/bios/{name}` (1.40): `{name: setting}`.
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
    let row = rows.iter().find(|r| r.0 == name).ok_or_else(|| {
        ApiError::not_found(format!(
            "Node {} doesn't have a BIOS setting '{name}'",
            n.uuid
        ))
    })?;
    let base = base_url(&req, &state);
    Ok(HttpResponse::Ok().json(json!({ name: bios_view(&n.uuid, &base, v, true, row) })))
}

/// `GET /v1/nodes/{id}/firmware` (1.86): empty until a firmware interface records components.
pub async fn firmware(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(86) {
        return Err(ApiError::unsupported_version());
    }
    find(&state, &path, v).await?;
    Ok(HttpResponse::Ok().json(json!({ "firmware": [] })))
}

/// `GET /v1/nodes/{id}/inventory` (1.81): 404 until an inspection stores one.
pub async fn inventory(
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(81) {
        return Err(ApiError::unsupported_version());
    }
    let n = find(&state, &path, v).await?;
    Err(ApiError::not_found(format!(
        "Node inventory for node {} could not be found.",
        n.uuid
    )))
}

/// `GET /v1/nodes/{id}/children` (1.83).
pub async fn children(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !v.at_least(83) {
        return Err(ApiError::unsupported_version());
    }
    let n = find(&state, &path, v).await?;
    let filter = NodeFilter {
        parent_node: Some(n.uuid.clone()),
        include_children: true,
        ..Default::default()
    };
    let page = Page {
        limit: state.config.file.api.max_limit,
        marker: None,
        sort_key: "id".into(),
        descending: false,
    };
    let kids = state.store.node_list(filter, page).await?;
    let base = base_url(&req, &state);
    let uuids: Vec<&str> = kids.iter().map(|k| k.uuid.as_str()).collect();
    Ok(HttpResponse::Ok().json(json!({
        "children": uuids,
        "links": [{"href": format!("{base}/v1/nodes?parent_node={}", n.uuid), "rel": "children"}],
    })))
}

/// A read of a known node sub-path that does not exist (Ironic: "Field X is not a valid field.").
pub async fn unknown_subpath(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("Field {} is not a valid field.", path.1),
    ))
}
