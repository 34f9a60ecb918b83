//! `/v1/deploy_templates` (1.55): named deploy step lists matched through instance traits.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::resource::{self, Ctx, Resource};
use super::step_lists::{self, StepSchema};
use super::views::Reader;
use super::State;
use crate::db::{Page, StoreError};
use crate::model::deploy_template::DeployTemplate;
use crate::model::validate;

/// Deploy steps: Ironic's deploying interfaces, ordered by `priority`, `args` required.
const STEPS: StepSchema = StepSchema {
    res: "deploy_template",
    interfaces: &[
        "vendor",
        "power",
        "management",
        "firmware",
        "deploy",
        "bios",
        "raid",
    ],
    order_key: "priority",
    args_required: true,
};

impl Resource for DeployTemplate {
    const COLLECTION: &'static str = "deploy_templates";
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("uuid", 55),
        ("name", 55),
        ("steps", 55),
        ("extra", 55),
        ("created_at", 55),
        ("updated_at", 55),
    ];
    const MIN_VERSION: u32 = 55;
    const NOT_SORT_COLUMNS: &'static [&'static str] = &["steps", "extra"];
    const LIST_FIELDS: Option<&'static [&'static str]> = Some(&["uuid", "name"]);
    type Filter = ();

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("uuid".into(), json!(self.uuid));
        m.insert("name".into(), json!(self.name));
        m.insert("steps".into(), json!(self.steps));
        m.insert("extra".into(), Value::Object(self.extra.clone()));
        m.insert("created_at".into(), json!(self.created_at));
        m.insert("updated_at".into(), json!(self.updated_at));
        m
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<DeployTemplate, ApiError> {
        let key = validate::normalize_uuid(ident).unwrap_or_else(|| ident.to_string());
        state
            .store
            .deploy_template_get(key)
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Deploy template", ident))
    }

    async fn list(state: &State, _: (), page: Page) -> Result<Vec<DeployTemplate>, StoreError> {
        state.store.deploy_template_list(page).await
    }
}

fn check_name(v: &Value) -> Result<String, ApiError> {
    step_lists::trait_name("deploy_template", v)
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::gate::<DeployTemplate>(v)?;
    let body = resource::body(&req, payload, &state).await?;
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
    t.steps = STEPS.check(obj.get("steps").ok_or_else(|| r.required("steps"))?)?;
    if let Some(u) = obj.get("uuid") {
        t.uuid = r
            .opt_uuid("uuid", u)?
            .unwrap_or_else(crate::model::new_uuid);
    }
    if let Some(e) = obj.get("extra") {
        t.extra = r.obj(e)?;
    }
    let t = state.conductor.deploy_template_create(t).await?;
    Ok(resource::created(&req, &state, v, &t))
}

impl resource::Update for DeployTemplate {
    const RES: &'static str = "deploy_template";

    fn patchable(_: Version) -> &'static [&'static str] {
        &["name", "steps", "extra"]
    }

    fn set_field(&mut self, key: &str, val: &Value, _: Version, _: &str) -> Result<(), ApiError> {
        match key {
            "name" => self.name = check_name(val)?,
            "steps" => self.steps = STEPS.check(val)?,
            "extra" => self.extra = Reader { res: Self::RES }.obj(val)?,
            _ => {}
        }
        Ok(())
    }

    async fn save(
        state: &State,
        _: DeployTemplate,
        new: DeployTemplate,
        _: &[String],
        _: resource::PatchQuery,
    ) -> Result<DeployTemplate, ApiError> {
        Ok(state.conductor.deploy_template_update(new).await?)
    }
}

impl resource::Delete for DeployTemplate {
    async fn delete(state: &State, t: DeployTemplate) -> Result<(), ApiError> {
        Ok(state.conductor.deploy_template_delete(t).await?)
    }
}
