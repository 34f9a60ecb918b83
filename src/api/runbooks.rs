//! `/v1/runbooks` (1.92; description, traits and `/traits` 1.112): named clean/service step
//! lists, and `runbook` in a provision request resolved into those steps.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::node_resources::{check_trait, trait_list};
use super::params::provision::ProvisionRequest;
use super::params::Query;
use super::resource::{self, Ctx, Resource};
use super::step_lists::{self, StepSchema};
use super::views::{py_repr, Reader};
use super::{base_url, State};
use crate::conductor::fsm::Event;
use crate::db::{Page, RunbookFilter, StoreError};
use crate::model::node::Node;
use crate::model::runbook::Runbook;

const RUNBOOKS: u32 = 92;
/// Traits, `description`, `/traits` and names that need not be traits.
const TRAITS: u32 = 112;
const RES: &str = "runbook";

/// Clean and service steps: Ironic's cleaning interfaces, ordered by `order`.
const STEPS: StepSchema = StepSchema {
    res: RES,
    interfaces: &[
        "vendor",
        "power",
        "management",
        "firmware",
        "deploy",
        "bios",
        "raid",
    ],
    order_key: "order",
    args_required: false,
};

impl Resource for Runbook {
    const COLLECTION: &'static str = "runbooks";
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("uuid", RUNBOOKS),
        ("name", RUNBOOKS),
        ("description", TRAITS),
        ("steps", RUNBOOKS),
        ("disable_ramdisk", RUNBOOKS),
        ("public", RUNBOOKS),
        ("owner", RUNBOOKS),
        ("traits", TRAITS),
        ("extra", RUNBOOKS),
        ("created_at", RUNBOOKS),
        ("updated_at", RUNBOOKS),
    ];
    const MIN_VERSION: u32 = RUNBOOKS;
    const UNSORTABLE: &'static [&'static str] = &["extra", "steps", "traits"];
    const LIST_FIELDS: Option<&'static [&'static str]> = Some(&["uuid", "name"]);
    type Filter = RunbookFilter;

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("uuid".into(), json!(self.uuid));
        m.insert("name".into(), json!(self.name));
        m.insert("description".into(), json!(self.description));
        m.insert("steps".into(), json!(self.steps));
        m.insert("disable_ramdisk".into(), json!(self.disable_ramdisk));
        m.insert("public".into(), json!(self.public));
        m.insert("owner".into(), json!(self.owner));
        m.insert("traits".into(), json!(self.traits));
        m.insert("extra".into(), Value::Object(self.extra.clone()));
        m.insert("created_at".into(), json!(self.created_at));
        m.insert("updated_at".into(), json!(self.updated_at));
        m
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<Runbook, ApiError> {
        let key = resource::uuid_or_name(ident, true, "runbook_ident")?;
        state
            .store
            .runbook_get(key)
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Runbook", ident))
    }

    async fn filter(
        _: &State,
        q: &Query,
        _: Version,
        f: &mut RunbookFilter,
    ) -> Result<(), ApiError> {
        f.public_only = q.bool("project")?.unwrap_or(false);
        Ok(())
    }

    async fn list(state: &State, f: RunbookFilter, page: Page) -> Result<Vec<Runbook>, StoreError> {
        state.store.runbook_list(f, page).await
    }
}

/// Below 1.92 the collection is absent: 404 for a read, 405 for a write, as Ironic answers.
fn gate(req: &HttpRequest, v: Version, min: u32, what: &str) -> Result<(), ApiError> {
    if v.at_least(min) {
        return Ok(());
    }
    let status = if req.method() == actix_web::http::Method::GET || min == TRAITS {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::METHOD_NOT_ALLOWED
    };
    Err(ApiError::framework(
        status,
        format!("The API version does not allow {what}"),
    ))
}

fn gate_runbooks(req: &HttpRequest, v: Version) -> Result<(), ApiError> {
    gate(req, v, RUNBOOKS, "runbooks")
}

/// `GET /v1/runbooks`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    gate_runbooks(&req, v)?;
    resource::list::<Runbook>(req, state, v).await
}

/// `GET /v1/runbooks/{runbook}`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate_runbooks(&req, v)?;
    resource::show::<Runbook>(req, state, v, path).await
}

/// `DELETE /v1/runbooks/{runbook}`.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate_runbooks(&req, v)?;
    resource::delete::<Runbook>(req, state, v, path, payload).await
}

impl resource::Delete for Runbook {
    async fn delete(state: &State, rb: Runbook) -> Result<(), ApiError> {
        Ok(state.conductor.runbook_delete(rb).await?)
    }
}

/// A name for a create at `v`: a trait before 1.112, a logical name from it.
fn create_name(v: &Value, at: Version) -> Result<String, ApiError> {
    if at.at_least(TRAITS) {
        step_lists::logical_name(RES, v)
    } else {
        step_lists::trait_name(RES, v)
    }
}

/// Set one writable field (create and PATCH share it).
fn set_field(rb: &mut Runbook, key: &str, val: &Value) -> Result<(), ApiError> {
    let r = Reader { res: RES };
    match key {
        "steps" => rb.steps = STEPS.check(val)?,
        "description" => rb.description = r.opt_str(val, 255)?,
        "disable_ramdisk" => rb.disable_ramdisk = strict_bool(val)?.unwrap_or(false),
        "public" => rb.public = strict_bool(val)?.unwrap_or(false),
        "owner" => rb.owner = r.opt_str(val, 255)?,
        "extra" => rb.extra = r.obj(val)?,
        _ => {}
    }
    Ok(())
}

/// Ironic's schema types these `boolean` or null: a string is refused, unlike node fields.
fn strict_bool(v: &Value) -> Result<Option<bool>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(ApiError::bad_request(format!(
            "Schema error for {RES}: {} is not of type 'boolean', 'null'",
            py_repr(other)
        ))),
    }
}

/// `POST /v1/runbooks`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate_runbooks(&req, v)?;
    let body = resource::body(&req, payload, &state).await?;
    let r = Reader { res: RES };
    let obj = body.as_object().ok_or_else(|| r.not_object(&body))?;
    let known: &[&str] = if v.at_least(TRAITS) {
        &[
            "uuid",
            "name",
            "description",
            "steps",
            "disable_ramdisk",
            "extra",
            "public",
            "owner",
        ]
    } else {
        &[
            "uuid",
            "name",
            "steps",
            "disable_ramdisk",
            "extra",
            "public",
            "owner",
        ]
    };
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(r.unexpected(k));
    }
    let mut rb = Runbook {
        uuid: crate::model::new_uuid(),
        ..Default::default()
    };
    rb.name = create_name(obj.get("name").ok_or_else(|| r.required("name"))?, v)?;
    rb.steps = STEPS.check(obj.get("steps").ok_or_else(|| r.required("steps"))?)?;
    for (k, val) in obj {
        set_field(&mut rb, k, val)?;
    }
    if let Some(u) = obj.get("uuid") {
        rb.uuid = r
            .opt_uuid("uuid", u)?
            .unwrap_or_else(crate::model::new_uuid);
    }
    // Without projects (noauth, http_basic) a request is project-scoped with no project,
    // so Ironic refuses any owner at create; owners are set later by PATCH.
    if rb.owner.as_deref().is_some_and(|o| !o.is_empty()) {
        return Err(ApiError::bad_request(
            "Cannot create a runbook as a project scoped admin with an owner other than your own project.",
        ));
    }
    rb.owner = None;
    let rb = state.conductor.runbook_create(rb).await?;
    Ok(resource::created(&req, &state, v, &rb))
}

/// The values a patch gives `path` (add and replace operations).
fn patch_values<'a>(ops: &'a Value, path: &str) -> Vec<&'a Value> {
    ops.as_array()
        .into_iter()
        .flatten()
        .filter(|op| op["path"].as_str() == Some(path) && op["op"].as_str() != Some("remove"))
        .filter_map(|op| op.get("value"))
        .collect()
}

/// `PATCH /v1/runbooks/{runbook}`: Ironic's rule that a public runbook has no owner, then
/// the patch. Names may be any logical name here at every version, as in Ironic.
pub async fn update(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate_runbooks(&req, v)?;
    let body = resource::body(&req, payload, &state).await?;
    let mut old = Runbook::find(&state, &path, v).await?;
    let owner = patch_values(&body, "/owner");
    let public = patch_values(&body, "/public");
    if !owner.is_empty() {
        let public_value = public.first().is_some_and(|p| truthy(p));
        if (old.public && public.is_empty()) || public_value {
            return Err(ApiError::bad_request(format!(
                "Couldn't apply patch '{}'. Reason: There cannot be an owner for a public runbook",
                py_repr(&body)
            )));
        }
    }
    if !public.is_empty() {
        old.owner = None;
    }
    let allowed: &[&str] = if v.at_least(TRAITS) {
        &[
            "disable_ramdisk",
            "extra",
            "name",
            "owner",
            "public",
            "steps",
            "description",
        ]
    } else {
        &[
            "disable_ramdisk",
            "extra",
            "name",
            "owner",
            "public",
            "steps",
        ]
    };
    let (new, _) = resource::patched(&old, &state, v, &body, allowed, |rb, k, val| {
        if k == "name" {
            rb.name = step_lists::logical_name("patch", val)?;
            return Ok(());
        }
        set_field(rb, k, val)
    })?;
    let rb = state.conductor.runbook_update(new).await?;
    resource::one(&req, &state, v, &rb)
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn gate_traits(req: &HttpRequest, v: Version) -> Result<(), ApiError> {
    gate_runbooks(req, v)?;
    gate(req, v, TRAITS, "runbook traits")
}

const TRAITS_USAGE: &str = "A single runbook trait may be added via PUT /v1/runbooks/<runbook identifier>/traits/<trait> with no body, or all runbook traits may be replaced via PUT /v1/runbooks/<runbook identifier>/traits with the list of traits specified in the request body.";

/// `GET /v1/runbooks/{runbook}/traits`.
pub async fn traits_get(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate_traits(&req, v)?;
    let rb = Runbook::find(&state, &path, v).await?;
    resource::json_response(&json!({ "traits": rb.traits }))
}

/// `PUT /v1/runbooks/{runbook}/traits` with `{"traits": [...]}`: replace them all.
pub async fn traits_set(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate_traits(&req, v)?;
    let body = resource::optional_body(&req, payload, &state).await?;
    let list = match &body {
        None => None,
        Some(b) => {
            let r = Reader { res: "body" };
            let obj = b.as_object().ok_or_else(|| r.not_object(b))?;
            if let Some(k) = obj.keys().find(|k| *k != "traits") {
                return Err(r.unexpected(k));
            }
            obj.get("traits").map(trait_list).transpose()?
        }
    };
    let traits = list.ok_or_else(|| ApiError::bad_request(TRAITS_USAGE))?;
    let mut rb = Runbook::find(&state, &path, v).await?;
    rb.traits = traits;
    state.conductor.runbook_update(rb).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT /v1/runbooks/{runbook}/traits/{trait}`: add one (no body).
pub async fn trait_add(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate_traits(&req, v)?;
    let body = resource::optional_body(&req, payload, &state).await?;
    let (ident, t) = path.into_inner();
    check_trait(&t, "trait")?;
    match body {
        Some(Value::Object(o)) if o.contains_key("traits") => {
            return Err(ApiError::bad_request(TRAITS_USAGE))
        }
        Some(b) if truthy(&b) => {
            return Err(ApiError::bad_request(
                "No body should be provided when adding a trait",
            ))
        }
        _ => {}
    }
    let mut rb = Runbook::find(&state, &ident, v).await?;
    if !rb.traits.contains(&t) {
        rb.traits.push(t.clone());
        state.conductor.runbook_update(rb).await?;
    }
    let base = base_url(&req, &state);
    Ok(HttpResponse::NoContent()
        .insert_header(("Location", format!("{base}/v1/runbooks/{ident}/traits/{t}")))
        .finish())
}

/// `DELETE /v1/runbooks/{runbook}/traits[/{trait}]`: remove one (absent: no-op) or all.
async fn traits_remove(
    req: &HttpRequest,
    state: &State,
    v: Version,
    ident: &str,
    which: Option<String>,
) -> Result<HttpResponse, ApiError> {
    gate_traits(req, v)?;
    let mut rb = Runbook::find(state, ident, v).await?;
    let before = rb.traits.len();
    match &which {
        Some(t) => rb.traits.retain(|x| x != t),
        None => rb.traits.clear(),
    }
    if rb.traits.len() != before {
        state.conductor.runbook_update(rb).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

pub async fn traits_delete(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::optional_body(&req, payload, &state).await?;
    traits_remove(&req, &state, v, &path, None).await
}

pub async fn trait_delete(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::optional_body(&req, payload, &state).await?;
    let (ident, t) = path.into_inner();
    traits_remove(&req, &state, v, &ident, Some(t)).await
}

/// `runbook` in a provision request: the runbook (by name or UUID) must be approved for
/// the node by its traits, then its steps replace `clean_steps`/`service_steps` and its
/// `disable_ramdisk` is the request's. Called after the request's own checks and the
/// node's state check, before anything changes, so a refusal leaves the node as it was.
pub async fn apply_to(
    state: &State,
    v: Version,
    node: &Node,
    ident: &str,
    req: &mut ProvisionRequest,
) -> Result<(), ApiError> {
    let rb = Runbook::find(state, ident, v).await?;
    let by_traits = v.at_least(TRAITS);
    if by_traits && rb.traits.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Runbook {} has no traits configured. Please ask an administrator to add traits to the runbook.",
            rb.uuid
        )));
    }
    if !rb.approved_for(&node.traits, by_traits) {
        let msg = if by_traits {
            let mut traits = rb.traits.clone();
            traits.sort();
            format!(
                "This runbook has not been approved for use on this node {}. The node does not have any of the runbook's traits {}. Please ask an administrator to add a matching trait to your node.",
                node.uuid,
                py_repr(&json!(traits))
            )
        } else {
            format!(
                "This runbook has not been approved for use on this node {}. Please ask an administrator to add it to your node traits.",
                node.uuid
            )
        };
        return Err(ApiError::bad_request(msg));
    }
    let event = req.target.event;
    let steps = Some(Value::Array(rb.steps.clone()));
    let given = |s: &Option<Value>| s.as_ref().is_some_and(truthy);
    match event {
        Event::Clean if given(&req.args.clean_steps) => {
            return Err(ApiError::bad_request(
                "Please provide either \"clean_steps\" or a runbook, but not both.",
            ))
        }
        Event::Service if given(&req.args.service_steps) => {
            return Err(ApiError::bad_request(
                "Please provide either \"service_steps\" or a runbook, but not both.",
            ))
        }
        Event::Clean => req.args.clean_steps = steps,
        Event::Service => req.args.service_steps = steps,
        _ => {}
    }
    // Ironic's check of `disable_ramdisk`, which a runbook always sets.
    let since = match event {
        Event::Clean => 70,
        Event::Service => 108,
        _ => {
            return Err(ApiError::bad_request(
                "disable_ramdisk is supported only with manual cleaning or servicing",
            ))
        }
    };
    if !v.at_least(since) {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "disable_ramdisk is not acceptable in this API version",
        ));
    }
    req.args.disable_ramdisk = Some(rb.disable_ramdisk);
    Ok(())
}
