//! `/v1/chassis`: a grouping of nodes.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::resource::{self, Ctx, Resource};
use super::views::Reader;
use super::State;
use crate::db::{NodeFilter, Page, StoreError};
use crate::model::chassis::Chassis;
use crate::model::node::Node;
use crate::model::validate;

impl Resource for Chassis {
    const COLLECTION: &'static str = "chassis";
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("uuid", 1),
        ("description", 1),
        ("extra", 1),
        ("created_at", 1),
        ("updated_at", 1),
    ];
    const UNSORTABLE: &'static [&'static str] = &["extra"];
    const LIST_FIELDS: Option<&'static [&'static str]> = Some(&["uuid", "description"]);
    const SUB_LINKS: &'static [(&'static str, u32)] = &[("nodes", 1)];
    type Filter = ();

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("uuid".into(), json!(self.uuid));
        m.insert("created_at".into(), json!(self.created_at));
        m.insert("updated_at".into(), json!(self.updated_at));
        m.insert("description".into(), json!(self.description));
        m.insert("extra".into(), Value::Object(self.extra.clone()));
        m
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<Chassis, ApiError> {
        let uuid = validate::normalize_uuid(ident)
            .ok_or_else(|| ApiError::expected_uuid("chassis_uuid", ident))?;
        state
            .store
            .chassis_get(uuid)
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Chassis", ident))
    }

    async fn list(state: &State, _: (), page: Page) -> Result<Vec<Chassis>, StoreError> {
        state.store.chassis_list(page).await
    }
}

fn set_field(c: &mut Chassis, key: &str, val: &Value) -> Result<(), ApiError> {
    let r = Reader { res: "chassis" };
    match key {
        "uuid" => {
            c.uuid = r
                .opt_uuid("uuid", val)?
                .unwrap_or_else(crate::model::new_uuid)
        }
        "description" => c.description = r.opt_str(val, 255)?,
        "extra" => c.extra = r.obj(val)?,
        other => return Err(r.unexpected(other)),
    }
    Ok(())
}

/// `/v1/chassis/{id}/nodes[/detail]`.
pub async fn nodes(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = Chassis::find(&state, &path, v).await?;
    // Its `next` link names `/v1/nodes[/detail]`, not the chassis path.
    let (detail, at) = resource::nested(&req, "nodes".into());
    let f = NodeFilter {
        chassis_uuid: Some(c.uuid),
        ..Default::default()
    };
    resource::list_in::<Node>(&req, &state, v, detail, f, &at).await
}

impl resource::Update for Chassis {
    const RES: &'static str = "chassis";

    fn patchable(_: Version) -> &'static [&'static str] {
        &["description", "extra"]
    }

    fn set_field(&mut self, key: &str, val: &Value, _: Version, _: &str) -> Result<(), ApiError> {
        set_field(self, key, val)
    }

    async fn save(
        state: &State,
        _: Chassis,
        new: Chassis,
        _: &[String],
        _: resource::PatchQuery,
    ) -> Result<Chassis, ApiError> {
        Ok(state.conductor.chassis_update(new).await?)
    }
}

impl resource::Create for Chassis {
    fn new_default(_: Version) -> Chassis {
        Chassis {
            uuid: crate::model::new_uuid(),
            ..Default::default()
        }
    }

    async fn insert(state: &State, c: Chassis) -> Result<Chassis, ApiError> {
        Ok(state.conductor.chassis_create(c).await?)
    }
}

impl resource::Delete for Chassis {
    async fn delete(state: &State, c: Chassis) -> Result<(), ApiError> {
        Ok(state.conductor.chassis_delete(c).await?)
    }
}
