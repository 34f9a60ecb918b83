//! `/v1/allocations` (1.52) and `/v1/nodes/{id}/allocation`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::Query;
use super::resource::{self, Ctx, Resource};
use super::views::Reader;
use super::State;
use crate::db::{AllocationFilter, Page, StoreError};
use crate::model::allocation::Allocation;
use crate::model::validate;

impl Resource for Allocation {
    const COLLECTION: &'static str = "allocations";
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("uuid", 52),
        ("name", 52),
        ("node_uuid", 52),
        ("resource_class", 52),
        ("traits", 52),
        ("candidate_nodes", 52),
        ("state", 52),
        ("last_error", 52),
        ("extra", 52),
        ("created_at", 52),
        ("updated_at", 52),
        ("owner", 60),
    ];
    const MIN_VERSION: u32 = 52;
    const NOT_SORT_COLUMNS: &'static [&'static str] = &[
        "node_uuid",
        "traits",
        "candidate_nodes",
        "last_error",
        "extra",
        "owner",
    ];
    // Ironic lists allocations in full.
    const LIST_FIELDS: Option<&'static [&'static str]> = None;
    type Filter = AllocationFilter;

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let a = self;
        let mut m = Map::new();
        m.insert("uuid".into(), json!(a.uuid));
        m.insert("name".into(), json!(a.name));
        m.insert("node_uuid".into(), json!(a.node_uuid));
        m.insert("resource_class".into(), json!(a.resource_class));
        m.insert("traits".into(), json!(a.traits));
        m.insert("candidate_nodes".into(), json!(a.candidate_nodes));
        m.insert("state".into(), json!(a.state));
        m.insert("last_error".into(), json!(a.last_error));
        m.insert("extra".into(), Value::Object(a.extra.clone()));
        m.insert("created_at".into(), json!(a.created_at));
        m.insert("updated_at".into(), json!(a.updated_at));
        m.insert("owner".into(), json!(a.owner));
        m
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<Allocation, ApiError> {
        let key = resource::uuid_or_name(ident, true, "allocation")?;
        state
            .store
            .allocation_get(key)
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Allocation", ident))
    }

    async fn filter(
        state: &State,
        q: &Query,
        v: Version,
        f: &mut AllocationFilter,
    ) -> Result<(), ApiError> {
        f.resource_class = q.get("resource_class").map(str::to_string);
        f.state = q.get("state").map(str::to_string);
        f.owner = q.gated("owner", v, 60)?.map(str::to_string);
        if let Some(n) = q.get("node") {
            f.node_uuid = Some(super::nodes::find(state, n, v).await?.uuid);
        }
        Ok(())
    }

    async fn list(
        state: &State,
        f: AllocationFilter,
        page: Page,
    ) -> Result<Vec<Allocation>, StoreError> {
        state.store.allocation_list(f, page).await
    }
}

fn traits(r: &Reader, v: &Value) -> Result<Vec<String>, ApiError> {
    let list = r.array(v)?;
    let mut out = vec![];
    for t in list {
        let s = r.str(t, 255)?;
        if !validate::is_valid_trait(&s) {
            return Err(ApiError::bad_request(format!(
                "Schema error for allocation: '{s}' does not match '^CUSTOM_[A-Z0-9_]+$'"
            )));
        }
        out.push(s);
    }
    Ok(out)
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::gate::<Allocation>(v)?;
    let body = resource::body(&req, payload, &state).await?;
    let r = Reader { res: "allocation" };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    for k in obj.keys() {
        let min = match k.as_str() {
            "uuid" | "name" | "resource_class" | "traits" | "candidate_nodes" | "extra" => 52,
            "node" => 58,
            "owner" => 60,
            other => return Err(r.unexpected(other)),
        };
        if !v.at_least(min) {
            return Err(ApiError::not_acceptable());
        }
    }
    let mut a = Allocation {
        uuid: crate::model::new_uuid(),
        ..Default::default()
    };
    for (k, val) in obj {
        match k.as_str() {
            "uuid" => {
                a.uuid = r
                    .opt_uuid("uuid", val)?
                    .unwrap_or_else(crate::model::new_uuid)
            }
            "name" => {
                a.name = r.opt_str(val, 255)?;
                if let Some(n) = &a.name {
                    if !validate::is_valid_logical_name(n) {
                        return Err(ApiError::invalid_name("create", "allocation", n));
                    }
                }
            }
            "resource_class" => a.resource_class = r.opt_str(val, 80)?,
            "traits" => a.traits = traits(&r, val)?,
            "extra" => a.extra = r.obj(val)?,
            "owner" => a.owner = r.opt_str(val, 255)?,
            "candidate_nodes" => {
                let list = r.array(val)?;
                for c in list {
                    let ident = r.str(c, 255)?;
                    let n = super::nodes::find(&state, &ident, v).await.map_err(|_| {
                        ApiError::bad_request(format!("Candidate node {ident} could not be found"))
                    })?;
                    a.candidate_nodes.push(n.uuid);
                }
            }
            _ => {}
        }
    }
    let backfill = match obj.get("node") {
        Some(n) => {
            let ident = r.str(n, 255)?;
            Some(
                super::nodes::find(&state, &ident, v)
                    .await
                    .map_err(|e| ApiError::bad_request(e.message))?,
            )
        }
        None => None,
    };
    if backfill.is_none() && a.resource_class.is_none() {
        return Err(r.required("resource_class"));
    }
    let a = state.conductor.allocation_create(a, backfill).await?;
    Ok(resource::created(&req, &state, v, &a))
}

impl resource::Update for Allocation {
    const RES: &'static str = "allocation";

    fn patchable(v: Version) -> &'static [&'static str] {
        if v.at_least(60) {
            &["name", "extra", "owner"]
        } else {
            &["name", "extra"]
        }
    }

    fn set_field(&mut self, key: &str, val: &Value, _: Version, _: &str) -> Result<(), ApiError> {
        set_field(self, key, val)
    }

    /// PATCH came in 1.57, after the collection.
    fn patch_query(_: &HttpRequest, v: Version) -> Result<resource::PatchQuery, ApiError> {
        resource::gate::<Allocation>(v)?;
        if !v.at_least(57) {
            return Err(ApiError::method_not_allowed());
        }
        Ok(resource::PatchQuery::default())
    }

    async fn save(
        state: &State,
        _: Allocation,
        new: Allocation,
        _: &[String],
        _: resource::PatchQuery,
    ) -> Result<Allocation, ApiError> {
        Ok(state.conductor.allocation_update(new).await?)
    }
}

/// Set one patched field.
fn set_field(a: &mut Allocation, key: &str, val: &Value) -> Result<(), ApiError> {
    let r = Reader { res: "allocation" };
    match key {
        "name" => {
            a.name = r.opt_str(val, 255)?;
            if let Some(n) = a.name.as_deref() {
                if !validate::is_valid_logical_name(n) {
                    return Err(ApiError::invalid_name("update", "allocation", n));
                }
            }
        }
        "extra" => a.extra = r.obj(val)?,
        "owner" => a.owner = r.opt_str(val, 255)?,
        _ => {}
    }
    Ok(())
}

impl resource::Delete for Allocation {
    async fn delete(state: &State, a: Allocation) -> Result<(), ApiError> {
        Ok(state.conductor.allocation_delete(a).await?)
    }
}

/// The allocation of the node `{id}` names.
async fn of_node(state: &State, ident: &str, v: Version) -> Result<Allocation, ApiError> {
    resource::gate::<Allocation>(v)?;
    let n = super::nodes::find(state, ident, v).await?;
    state
        .store
        .allocation_of_node(n.uuid.clone())
        .await?
        .ok_or_else(|| ApiError::resource_not_found("Allocation for node", &n.uuid))
}

/// `GET /v1/nodes/{id}/allocation`
pub async fn node_get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let a = of_node(&state, &path, v).await?;
    resource::one(&req, &state, v, &a)
}

/// `DELETE /v1/nodes/{id}/allocation`
pub async fn node_delete(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::optional_body(&req, payload, &state).await?;
    let a = of_node(&state, &path, v).await?;
    state.conductor.allocation_delete(a).await?;
    Ok(HttpResponse::NoContent().finish())
}
