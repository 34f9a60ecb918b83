//! The Enroll (`/ui/enroll`), Deploy (`/ui/machines/{uuid}/deploy`) and "Enroll with BMC
//! credentials" (`/ui/machines/{uuid}/bmc`, a discovered machine) forms and the Validate
//! fragment (`/ui/machines/{uuid}/validate`). Each POST checks the CSRF token and
//! origin, then spends the form's one-shot nonce (a double submit or a replay does nothing
//! twice), then hands the values to `enroll`/`deploy`. A refusal re-renders the form with
//! the API's message next to its field and the values kept — never the BMC password.
//! Under htmx (`HX-Request`) the form alone comes back (200, so htmx swaps it in) and a
//! success answers `HX-Redirect`; without JS a full page with the API's status, or 303.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::deploy::{self, DeployForm};
use super::discovered::{self, BmcForm};
use super::enroll::{self, EnrollForm, FormError};
use super::form_data::{self, Form};
use super::{fragment, page, Chrome, UiUser};
use crate::api::error::ApiError;
use crate::api::microversion::Version;
use crate::api::State;
use crate::conductor::CachedImageListing;
use crate::model::node::Node;
use crate::model::secrets::mask_text;

/// Fields every form carries besides its own.
const COMMON: &[&str] = &["_csrf", "_nonce"];

/// A refusal as a form shows it.
struct Shown {
    field: Option<&'static str>,
    message: String,
    status: StatusCode,
}

impl Shown {
    fn of(e: FormError) -> Shown {
        Shown {
            field: e.field,
            // Messages may quote what a driver was given: masked as the API masks them.
            message: mask_text(&e.error.message).into_owned(),
            status: e.error.status,
        }
    }
}

/// What the form templates share: the nonce and where the error goes.
struct FormState {
    nonce: String,
    error: Option<Shown>,
}

impl FormState {
    /// The message for `field` (the form's top shows those about no field).
    fn err(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.field.unwrap_or("") == field)
            .map(|e| e.message.as_str())
    }
}

#[derive(Template)]
#[template(path = "ui/enroll.html")]
struct EnrollPage {
    chrome: Chrome,
    f: EnrollForm,
    s: FormState,
    drivers: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/enroll_form.html")]
struct EnrollFragment {
    f: EnrollForm,
    s: FormState,
    drivers: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/deploy.html")]
struct DeployPage {
    chrome: Chrome,
    node: NodeHead,
    f: DeployForm,
    s: FormState,
    cached: Vec<CachedImageListing>,
}

#[derive(Template)]
#[template(path = "ui/deploy_form.html")]
struct DeployFragment {
    node: NodeHead,
    f: DeployForm,
    s: FormState,
    cached: Vec<CachedImageListing>,
}

#[derive(Template)]
#[template(path = "ui/bmc.html")]
struct BmcPage {
    chrome: Chrome,
    b: BmcHead,
    f: BmcForm,
    s: FormState,
}

#[derive(Template)]
#[template(path = "ui/bmc_form.html")]
struct BmcFragment {
    b: BmcHead,
    f: BmcForm,
    s: FormState,
}

/// The discovered node the BMC form is about, and what its inspection recorded.
struct BmcHead {
    node: NodeHead,
    /// The recorded BMC address, if any.
    address: Option<String>,
    /// Why the form cannot be used now (not discovered, not in enroll), if so.
    refusal: Option<String>,
    /// The enabled hardware types the form can fill driver_info for.
    drivers: Vec<String>,
}

/// `GET /ui/machines/{uuid}/validate`: one row per interface.
#[derive(Template)]
#[template(path = "ui/validate.html")]
struct ValidateFragment {
    uuid: String,
    rows: Vec<(String, bool, Option<String>)>,
}

/// The node a deploy form is about.
struct NodeHead {
    uuid: String,
    name: String,
    provision_state: String,
}

impl NodeHead {
    fn of(n: &Node) -> NodeHead {
        NodeHead {
            uuid: n.uuid.clone(),
            name: n.name.clone().unwrap_or_else(|| n.uuid.clone()),
            provision_state: n.provision_state.clone(),
        }
    }
}

/// The enabled hardware types, as `GET /v1/drivers` lists them (in configuration order).
fn drivers(state: &State) -> Vec<String> {
    state
        .config
        .default
        .enabled_hardware_types
        .iter()
        .filter(|d| state.conductor.driver_interfaces(d).is_some())
        .cloned()
        .collect()
}

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

/// The answer to a successful POST: on to `to`.
fn go_to(req: &HttpRequest, to: &str) -> HttpResponse {
    if is_htmx(req) {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", to))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .finish()
    }
}

/// The form's POST: its body (bounded by `[api] max_json_body_size`), its CSRF token and
/// origin, its known fields; then its nonce, spent — a second submit of the same form is
/// refused with 409 and does nothing.
async fn accept(
    req: &HttpRequest,
    user: &UiUser,
    state: &State,
    payload: web::Payload,
    fields: &[&str],
) -> Result<Form, ApiError> {
    let limit = state.config.api.max_json_body_size as usize * 1024;
    let form = form_data::read(req, payload, limit).await?;
    user.verify_post(req, form.one("_csrf")?)?;
    let known: Vec<&str> = fields.iter().chain(COMMON).copied().collect();
    form.only(&known)?;
    let spent = !form.one("_nonce")?.is_some_and(|n| user.consume_nonce(n));
    if spent {
        return Err(ApiError::conflict(
            "This form was already submitted (or has expired): nothing was done again. Reload the page to submit it anew.",
        ));
    }
    Ok(form)
}

async fn enroll_form(user: UiUser, state: web::Data<State>) -> HttpResponse {
    page(
        StatusCode::OK,
        &EnrollPage {
            chrome: user.chrome("enroll"),
            f: EnrollForm {
                driver: drivers(&state).first().cloned().unwrap_or_default(),
                ..Default::default()
            },
            s: FormState {
                nonce: user.nonce(),
                error: None,
            },
            drivers: drivers(&state),
        },
    )
}

async fn enroll_post(
    req: HttpRequest,
    user: UiUser,
    state: web::Data<State>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = accept(&req, &user, &state, payload, enroll::FIELDS).await?;
    let mut f = EnrollForm::from_form(&form)?;
    let shown = match enroll::enroll(&state, &f).await {
        Ok(node) => return Ok(go_to(&req, &format!("/ui/machines/{}", node.uuid))),
        Err(e) => Shown::of(e),
    };
    // The password is never sent back into a page.
    f.bmc_password.clear();
    let status = shown.status;
    let s = FormState {
        nonce: user.nonce(),
        error: Some(shown),
    };
    let drivers = drivers(&state);
    Ok(if is_htmx(&req) {
        html(&EnrollFragment { f, s, drivers })?
    } else {
        page(
            status,
            &EnrollPage {
                chrome: user.chrome("enroll"),
                f,
                s,
                drivers,
            },
        )
    })
}

/// A fragment as a 200 (htmx swaps only successful answers).
fn html(t: &impl Template) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(fragment(t)?))
}

async fn find(state: &State, ident: &str) -> Result<Node, ApiError> {
    crate::api::nodes::find(state, ident, Version::MAX).await
}

async fn deploy_form(
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = find(&state, &path).await?;
    Ok(page(
        StatusCode::OK,
        &DeployPage {
            chrome: user.chrome("machines"),
            node: NodeHead::of(&node),
            f: DeployForm::default(),
            s: FormState {
                nonce: user.nonce(),
                error: None,
            },
            cached: deploy::cached_images(&state),
        },
    ))
}

async fn deploy_post(
    req: HttpRequest,
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = accept(&req, &user, &state, payload, deploy::FIELDS).await?;
    let f = DeployForm::from_form(&form)?;
    let node = find(&state, &path).await?;
    let head = NodeHead::of(&node);
    let shown = match deploy::deploy(&state, node, &f).await {
        Ok(()) => return Ok(go_to(&req, &format!("/ui/machines/{}", head.uuid))),
        Err(e) => Shown::of(e),
    };
    let status = shown.status;
    let s = FormState {
        nonce: user.nonce(),
        error: Some(shown),
    };
    let cached = deploy::cached_images(&state);
    Ok(if is_htmx(&req) {
        html(&DeployFragment {
            node: head,
            f,
            s,
            cached,
        })?
    } else {
        page(
            status,
            &DeployPage {
                chrome: user.chrome("machines"),
                node: head,
                f,
                s,
                cached,
            },
        )
    })
}

async fn validate(
    _user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = find(&state, &path).await?;
    let rows = enroll::validate(&state, &node).await?;
    html(&ValidateFragment {
        uuid: node.uuid,
        rows,
    })
}

/// The node with its stored inspection data `(inventory, plugin_data)`.
async fn with_inspection(
    state: &State,
    ident: &str,
) -> Result<(Node, Option<(serde_json::Value, serde_json::Value)>), ApiError> {
    let node = find(state, ident).await?;
    let stored = state.store.inventory_get(node.id).await?;
    Ok((node, stored))
}

fn bmc_head(
    state: &State,
    node: &Node,
    stored: Option<&(serde_json::Value, serde_json::Value)>,
) -> BmcHead {
    BmcHead {
        node: NodeHead::of(node),
        address: stored.and_then(|(inv, _)| discovered::recorded_bmc(inv)),
        refusal: discovered::refusal(node, stored.map(|(_, pd)| pd)),
        drivers: drivers(state)
            .into_iter()
            .filter(|d| discovered::DRIVERS.contains(&d.as_str()))
            .collect(),
    }
}

async fn bmc_form(
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (node, stored) = with_inspection(&state, &path).await?;
    let b = bmc_head(&state, &node, stored.as_ref());
    let f = BmcForm {
        driver: b.drivers.first().cloned().unwrap_or_default(),
        ..Default::default()
    };
    Ok(page(
        StatusCode::OK,
        &BmcPage {
            chrome: user.chrome("machines"),
            b,
            f,
            s: FormState {
                nonce: user.nonce(),
                error: None,
            },
        },
    ))
}

async fn bmc_post(
    req: HttpRequest,
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = accept(&req, &user, &state, payload, discovered::FIELDS).await?;
    let mut f = BmcForm::from_form(&form)?;
    let (node, stored) = with_inspection(&state, &path).await?;
    let b = bmc_head(&state, &node, stored.as_ref());
    let (inv, pd) = match &stored {
        Some((i, p)) => (Some(i), Some(p)),
        None => (None, None),
    };
    let shown = match discovered::enroll_with_bmc(&state, node, pd, inv, &f).await {
        Ok(()) => return Ok(go_to(&req, &format!("/ui/machines/{}", b.node.uuid))),
        Err(e) => Shown::of(e),
    };
    // The password is never sent back into a page.
    f.bmc_password.clear();
    let status = shown.status;
    let s = FormState {
        nonce: user.nonce(),
        error: Some(shown),
    };
    Ok(if is_htmx(&req) {
        html(&BmcFragment { b, f, s })?
    } else {
        page(
            status,
            &BmcPage {
                chrome: user.chrome("machines"),
                b,
                f,
                s,
            },
        )
    })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/enroll")
            .route(web::get().to(enroll_form))
            .route(web::post().to(enroll_post)),
    )
    .service(
        web::resource("/machines/{node}/deploy")
            .route(web::get().to(deploy_form))
            .route(web::post().to(deploy_post)),
    )
    .service(
        web::resource("/machines/{node}/bmc")
            .route(web::get().to(bmc_form))
            .route(web::post().to(bmc_post)),
    )
    .service(web::resource("/machines/{node}/validate").route(web::get().to(validate)));
}
