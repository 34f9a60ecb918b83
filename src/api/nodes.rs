//! `/v1/nodes`: CRUD, JSON patch, maintenance, states, validate, traits, history and the
//! node's sub-collections. Fields appear and disappear by microversion per `FIELDS`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::node_view::{self, creatable, raw_json, View, PATCHABLE};
use super::params::{parse_bool, Query};
use super::resource::{self, Ctx, Resource};
use super::views::{py_repr, Reader};
use super::State;
use crate::db::{NodeFilter, Page, StoreError};
use crate::model::node::Node;
use crate::model::{states, validate};

/// Resolve `{node_ident}`: a UUID, or (from 1.5) a logical name.
pub async fn find(state: &State, ident: &str, v: Version) -> Result<Node, ApiError> {
    let not_found = || ApiError::resource_not_found("Node", ident);
    if !validate::is_uuid_like(ident) {
        if !v.at_least(5) {
            return Err(not_found());
        }
        if !validate::is_valid_logical_name(ident) {
            return Err(ApiError::expected_uuid_or_name("node", ident));
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
        Err(ApiError::invalid_name(verb, "node", name))
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
            n.name = r.opt_str(val, 255).map_err(|e| match val {
                Value::String(s) => ApiError::invalid_name(verb, "node", s),
                _ => e,
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
        "protected" => n.protected = r.bool_or(key, val, false)?,
        "protected_reason" => n.protected_reason = r.opt_str(val, 255)?,
        "retired" => n.retired = r.bool_or(key, val, false)?,
        "retired_reason" => n.retired_reason = r.opt_str(val, 255)?,
        "disable_power_off" => n.disable_power_off = r.bool_or(key, val, false)?,
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

fn conductor_of(state: &State, n: &Node) -> Option<String> {
    state.conductor.owner_of(&n.conductor_group, &n.uuid)
}

impl Resource for Node {
    const COLLECTION: &'static str = "nodes";
    const FIELDS: &'static [(&'static str, u32)] = node_view::FIELDS;
    const UNSORTABLE: &'static [&'static str] = node_view::UNSORTABLE;
    const LIST_FIELDS: Option<&'static [&'static str]> = Some(node_view::LIST_FIELDS);
    const SUB_LINKS: &'static [(&'static str, u32)] = node_view::SUB_LINKS;
    type Filter = NodeFilter;

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, cx: &Ctx) -> Map<String, Value> {
        raw_json(self, cx.v, conductor_of(cx.state, self).as_deref())
    }

    async fn find(state: &State, ident: &str, v: Version) -> Result<Node, ApiError> {
        find(state, ident, v).await
    }

    async fn filter(
        state: &State,
        q: &Query,
        v: Version,
        f: &mut NodeFilter,
    ) -> Result<(), ApiError> {
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
                vec![state.config.conductor.conductor_group.clone()]
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
            let parent = find(state, p, v)
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
            f.instance_uuid = Some(
                validate::normalize_uuid(i)
                    .ok_or_else(|| ApiError::expected_uuid("instance_uuid", i))?,
            );
        }
        if let Some(c) = q.get("chassis_uuid") {
            f.chassis_uuid = Some(
                validate::normalize_uuid(c)
                    .ok_or_else(|| ApiError::expected_uuid("chassis_uuid", c))?,
            );
        }
        Ok(())
    }

    async fn list(state: &State, f: NodeFilter, page: Page) -> Result<Vec<Node>, StoreError> {
        state.store.node_list(f, page).await
    }

    /// Only the columns of the fields shown are read, and each node is written as its row
    /// is stepped, on the store's thread: no page of nodes is ever held.
    async fn page_json(
        state: &State,
        f: NodeFilter,
        page: Page,
        lc: resource::ListCtx,
    ) -> Result<resource::PageJson, ApiError> {
        let conductor = state.conductor.clone();
        let shows_conductor = lc
            .fields
            .as_ref()
            .is_none_or(|f| f.iter().any(|x| x == "conductor"));
        let columns = lc.fields.clone().map(|mut f| {
            if shows_conductor {
                f.push("conductor_group".into());
            }
            f
        });
        let (pj, t) = state
            .store
            .node_list_each(
                f,
                page,
                columns,
                resource::PageJson::default(),
                move |pj, n| {
                    let owner = shows_conductor
                        .then(|| conductor.owner_of(&n.conductor_group, &n.uuid))
                        .flatten();
                    let view = View {
                        node: &n,
                        v: lc.v,
                        base: &lc.base,
                        conductor: owner.as_deref(),
                        fields: lc.fields.as_deref(),
                    };
                    pj.push(&view, &n.uuid)
                        .map_err(|e| StoreError::Worker(e.to_string()))
                },
            )
            .await?;
        tracing::debug!(
            rows = t.rows,
            sql_us = t.sql.as_micros() as u64,
            decode_us = t.decode.as_micros() as u64,
            serialize_us = t.write.as_micros() as u64,
            bytes = pj.items.len(),
            "node list"
        );
        Ok(pj)
    }

    /// A lookup by instance is one node, never paged.
    fn pages(q: &Query) -> bool {
        !q.has("instance_uuid")
    }

    /// Written straight from the node, secrets masked while writing: node lists are the
    /// API's largest bodies.
    fn serialize_view<S: serde::Serializer>(
        &self,
        cx: &Ctx,
        fields: Option<&[String]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        use serde::Serialize;
        let conductor = conductor_of(cx.state, self);
        View {
            node: self,
            v: cx.v,
            base: cx.base,
            conductor: conductor.as_deref(),
            fields,
        }
        .serialize(s)
    }
}

impl resource::Update for Node {
    const RES: &'static str = "node";

    fn patchable(_: Version) -> &'static [&'static str] {
        PATCHABLE
    }

    fn set_field(
        &mut self,
        key: &str,
        val: &Value,
        v: Version,
        verb: &str,
    ) -> Result<(), ApiError> {
        set_field(self, key, val, v, verb)
    }

    /// `?reset_interfaces` (1.45), read before the body.
    fn patch_query(req: &HttpRequest, v: Version) -> Result<resource::PatchQuery, ApiError> {
        let q = Query::parse(req)?;
        let reset_interfaces = match q.gated("reset_interfaces", v, 45)? {
            Some(s) => parse_bool("reset_interfaces", s)?,
            None => false,
        };
        Ok(resource::PatchQuery { reset_interfaces })
    }

    /// `add` of an instance_uuid over a different one is NodeAssociated (checked by the conductor).
    async fn save(
        state: &State,
        old: Node,
        new: Node,
        changed: &[String],
        q: resource::PatchQuery,
    ) -> Result<Node, ApiError> {
        Ok(state
            .conductor
            .node_update(old, new, changed, q.reset_interfaces)
            .await?)
    }
}

impl resource::Create for Node {
    fn new_default(v: Version) -> Node {
        Node {
            uuid: crate::model::new_uuid(),
            // Before 1.11 new nodes went straight to `available`.
            provision_state: if v.at_least(11) {
                states::ENROLL
            } else {
                states::AVAILABLE
            }
            .to_string(),
            ..Default::default()
        }
    }

    fn check_create(obj: &Map<String, Value>, _: &Value, v: Version) -> Result<(), ApiError> {
        let r = Reader { res: "node" };
        for k in obj.keys() {
            if !creatable(k) {
                return Err(r.unexpected(k));
            }
        }
        if obj.keys().any(|k| !resource::visible::<Node>(k, v)) {
            return Err(ApiError::not_acceptable());
        }
        if !obj.contains_key("driver") {
            return Err(r.required("driver"));
        }
        Ok(())
    }

    async fn insert(state: &State, n: Node) -> Result<Node, ApiError> {
        Ok(state.conductor.node_create(n).await?)
    }
}

impl resource::Delete for Node {
    async fn delete(state: &State, n: Node) -> Result<(), ApiError> {
        Ok(state.conductor.node_delete(n).await?)
    }
}

pub async fn maintenance_set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let q = Query::parse(&req)?;
    let mut reason = q.get("reason").map(str::to_string);
    // The body is optional, but one that is there must be JSON (and is read whole first).
    if let Some(body) = resource::optional_body(&req, payload, &state).await? {
        if let Some(o) = body.as_object() {
            if let Some(k) = o.keys().find(|k| *k != "reason") {
                return Err(ApiError::unknown_argument(k));
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
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::optional_body(&req, payload, &state).await?;
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
        let min = resource::field_version::<Node>(&format!("{kind}_interface")).unwrap_or(1);
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
            // Driver messages may quote an address with its password.
            r.insert(
                "reason".into(),
                json!(crate::model::secrets::mask_text(&reason)),
            );
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
        .ok_or_else(|| ApiError::missing_argument("node"))?
        .to_string();
    validate(state, v, web::Path::from(ident)).await
}

/// A read of a known node sub-path that does not exist (Ironic: "Field X is not a valid field.").
pub async fn unknown_subpath(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("Field {} is not a valid field.", path.1),
    ))
}
