//! `/v1/inspection_rules` (1.96): rules the conductor runs on inspection data. Reads are 404
//! and writes 405 below 1.96, as Ironic answers; bodies are checked with Ironic's schema
//! and plugin checks (`model::inspection_rule`); a sensitive rule never shows its
//! conditions or actions.
//!
//! Checked against Ironic 39.0.0 with the same requests. Where Ironic 39 fails with a
//! 500 (an operator's wrong arguments, a list `args` too short, a non-UUID `uuid`, a
//! non-JSON body, `DELETE /v1/inspection_rules`), ironbox answers 400 (204 for the
//! delete-all) with the message Ironic's code means to give; its links point at
//! `/v1/inspection_rules/<uuid>` where Ironic 39's point at `/v1/inspection/<uuid>`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::microversion::Version;
use super::params::Query;
use super::resource::{self, Ctx, Resource};
use super::views::py_repr;
use super::State;
use crate::db::{Page, StoreError};
use crate::model::inspection_rule::{self as rule, InspectionRule};
use crate::model::validate;

const MIN: u32 = 96;
const NOT_ALLOWED: &str = "The API version does not allow inspection rules";

/// Reads below 1.96: 404.
fn gate_read(v: Version) -> Result<(), ApiError> {
    if v.at_least(MIN) {
        Ok(())
    } else {
        Err(ApiError::not_found(NOT_ALLOWED))
    }
}

/// Writes below 1.96: 405, as Ironic's controller answers.
fn gate_write(v: Version) -> Result<(), ApiError> {
    if v.at_least(MIN) {
        Ok(())
    } else {
        Err(ApiError::new(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            NOT_ALLOWED,
        ))
    }
}

/// A path's or body's rule UUID (Ironic's parameter schema: format uuid).
fn uuid_of(ident: &str) -> Result<String, ApiError> {
    validate::normalize_uuid(ident).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Schema error: {} is not a 'uuid'",
            py_repr(&Value::from(ident))
        ))
    })
}

impl Resource for InspectionRule {
    const COLLECTION: &'static str = "inspection_rules";
    const FIELDS: &'static [(&'static str, u32)] = &[
        ("uuid", MIN),
        ("description", MIN),
        ("priority", MIN),
        ("phase", MIN),
        ("sensitive", MIN),
        ("conditions", MIN),
        ("actions", MIN),
        ("created_at", MIN),
        ("updated_at", MIN),
    ];
    const MIN_VERSION: u32 = MIN;
    const UNSORTABLE: &'static [&'static str] = &["actions", "conditions"];
    const LIST_FIELDS: Option<&'static [&'static str]> =
        Some(&["uuid", "priority", "phase", "description"]);
    /// `?phase=`
    type Filter = Option<String>;

    fn ident(&self) -> &str {
        &self.uuid
    }

    fn row(&self, _: &Ctx) -> Map<String, Value> {
        let mut m = self.document();
        m.insert("conditions".into(), rule::shown_ops(&self.conditions, true));
        m.insert("actions".into(), rule::shown_ops(&self.actions, false));
        m.insert("created_at".into(), Value::from(self.created_at.clone()));
        m.insert(
            "updated_at".into(),
            self.updated_at.clone().map_or(Value::Null, Value::from),
        );
        m
    }

    /// A sensitive rule's conditions and actions are null in every view.
    fn serialize_view<S: serde::Serializer>(
        &self,
        cx: &Ctx,
        fields: Option<&[String]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut view = resource::view_value(self, cx, fields);
        if let (true, Some(m)) = (self.sensitive, view.as_object_mut()) {
            for k in ["conditions", "actions"] {
                if let Some(v) = m.get_mut(k) {
                    *v = Value::Null;
                }
            }
        }
        serde::Serialize::serialize(&view, s)
    }

    async fn find(state: &State, ident: &str, _: Version) -> Result<InspectionRule, ApiError> {
        let uuid = uuid_of(ident)?;
        state
            .store
            .inspection_rule_get(uuid)
            .await?
            .ok_or_else(|| ApiError::resource_not_found("Rule", ident))
    }

    async fn filter(
        _: &State,
        q: &Query,
        _: Version,
        f: &mut Option<String>,
    ) -> Result<(), ApiError> {
        *f = q.get("phase").map(str::to_string);
        Ok(())
    }

    async fn list(
        state: &State,
        phase: Option<String>,
        page: Page,
    ) -> Result<Vec<InspectionRule>, StoreError> {
        state.store.inspection_rule_list(phase, page).await
    }
}

/// `GET /v1/inspection_rules`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
) -> Result<HttpResponse, ApiError> {
    gate_read(v)?;
    let q = Query::parse(&req)?;
    if let Some(k @ ("actions" | "conditions")) = q.get("sort_key") {
        return Err(ApiError::bad_request(format!(
            "Schema error: '{k}' should not be valid under {{'type': 'string', 'enum': ['actions', 'conditions']}}"
        )));
    }
    resource::list_in::<InspectionRule>(&req, &state, v, false, None, "inspection_rules").await
}

/// `GET /v1/inspection_rules/{uuid}`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    gate_read(v)?;
    resource::show::<InspectionRule>(req, state, v, path).await
}

/// A rule document (create body, or a rule after a patch) checked as Ironic checks it;
/// `schema` names the schema in messages ("Schema error: ..." / "Schema error for patch:").
fn checked(doc: &Value, schema: &str) -> Result<InspectionRule, ApiError> {
    if let Some(e) = rule::schema_error(doc) {
        return Err(ApiError::bad_request(format!("{schema} {e}")));
    }
    let obj = doc.as_object().ok_or_else(|| {
        ApiError::bad_request(format!("{schema} {} is not of type 'object'", py_repr(doc)))
    })?;
    rule::validate_rule(obj, false).map_err(ApiError::bad_request)?;
    let mut r = InspectionRule::from_document(obj);
    r.uuid = match obj.get("uuid").and_then(Value::as_str) {
        Some(u) => uuid_of(u)?,
        None => crate::model::new_uuid(),
    };
    Ok(r)
}

/// `POST /v1/inspection_rules`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate_write(v)?;
    let body = resource::body(&req, payload, &state).await?;
    let r = checked(&body, "Schema error:")?;
    let r = state.conductor.inspection_rule_create(r).await?;
    Ok(resource::created(&req, &state, v, &r))
}

/// `PATCH /v1/inspection_rules/{uuid}`: the patch applied to the rule's document, the
/// result checked as a new rule would be; a sensitive rule stays sensitive.
pub async fn update(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    gate_write(v)?;
    let body = resource::body(&req, payload, &state).await?;
    let old = InspectionRule::find(&state, &path, v).await?;
    if old.sensitive {
        let unsets = body.as_array().is_some_and(|ops| {
            ops.iter().any(|op| {
                op.get("path").and_then(Value::as_str) == Some("/sensitive")
                    && match op.get("op").and_then(Value::as_str) {
                        Some("remove") => true,
                        _ => op.get("value").is_some_and(|x| x == &Value::Bool(false)),
                    }
            })
        });
        if unsets {
            return Err(ApiError::bad_request(format!(
                "Couldn't apply patch '{}'. Reason: Inspection rules cannot have the sensitive flag unset.",
                py_repr(&body)
            )));
        }
    }
    const PATCHABLE: &[&str] = &[
        "description",
        "priority",
        "phase",
        "sensitive",
        "conditions",
        "actions",
    ];
    let doc = resource::document(&old, &state, v);
    let (after, _) = super::patch::apply(doc, &body, PATCHABLE, |_| true)?;
    let doc: Map<String, Value> = after
        .into_iter()
        .filter(|(k, _)| PATCHABLE.contains(&k.as_str()))
        .collect();
    let mut new = checked(&Value::Object(doc), "Schema error for patch:")?;
    new.id = old.id;
    new.uuid = old.uuid.clone();
    new.created_at = old.created_at.clone();
    let saved = state.conductor.inspection_rule_update(new).await?;
    resource::one(&req, &state, v, &saved)
}

/// `DELETE /v1/inspection_rules/{uuid}`.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::optional_body(&req, payload, &state).await?;
    gate_write(v)?;
    let r = InspectionRule::find(&state, &path, v).await?;
    state.conductor.inspection_rule_delete(r).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /v1/inspection_rules`: every rule stored through the API.
pub async fn delete_all(
    req: HttpRequest,
    state: web::Data<State>,
    v: Version,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    resource::optional_body(&req, payload, &state).await?;
    gate_write(v)?;
    let n = state.conductor.inspection_rule_delete_all().await?;
    tracing::info!(deleted = n, "deleted every inspection rule");
    Ok(HttpResponse::NoContent().finish())
}
