//! The Machine page (`/ui/machines/{uuid}`): a header with the node's states and the
//! actions valid now (`POST …/action`, through the same conductor calls as the JSON API),
//! the boot timeline per provisioning attempt, hardware, ports, driver_info (masked as the
//! API masks it) and the API's JSON view; `…/events` keeps header and timeline live (SSE).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::super::error::ApiError;
use super::super::microversion::Version;
use super::super::node_view::View;
use super::super::nodes::find;
use super::super::State;
use super::live::{self, Event, Update};
use super::machine_view::{self, Action, Hardware};
use super::{fragment, page, Chrome, UiUser};
use crate::conductor::fsm;
use crate::conductor::provision::ProvisionArgs;
use crate::db::{ChangeKind, Page, PortFilter};
use crate::model::node::Node;
use crate::model::timeline::{self, Attempt};

/// What the header shows (also the `header` SSE event and the action's answer).
pub struct HeaderData {
    uuid: String,
    name: String,
    provision_state: String,
    target: Option<String>,
    power_state: String,
    driver: String,
    /// Enrolled by auto-discovery (`driver_internal_info.auto_discovered`).
    discovered: bool,
    maintenance: bool,
    maintenance_reason: Option<String>,
    fault: Option<String>,
    last_error: Option<String>,
    actions: Vec<Action>,
    /// One per render: any action consumes it, so a second click of the same render is a
    /// no-op; the re-rendered header brings a new one.
    nonce: String,
    csrf: String,
    /// The last action's refusal, in Ironic's words.
    error: Option<String>,
    /// A destructive action waiting for "yes".
    confirm: Option<Action>,
    /// See `fingerprint`: the page's live stream starts from it.
    shown: String,
}

#[derive(Template)]
#[template(path = "ui/machine_header.html")]
struct HeaderFrag {
    header: HeaderData,
}

/// One attempt of the timeline, formatted.
pub struct AttemptView {
    a: Attempt,
    duration: String,
    open: bool,
}

impl AttemptView {
    fn row_duration(&self, d: &Option<f64>) -> String {
        d.map(timeline::human).unwrap_or_default()
    }

    /// `2026-12-07T10:01:02.123456+00:00` → `10:01:02`.
    fn clock<'s>(&self, t: &'s str) -> &'s str {
        t.get(11..19).unwrap_or(t)
    }

    /// `2026-12-07T10:01:02.123456+00:00` → `2026-12-07 10:01:02 UTC`, for an attempt's start.
    fn day_clock(&self, t: &str) -> String {
        match (t.get(..10), t.get(11..19)) {
            (Some(day), Some(clock)) => format!("{day} {clock} UTC"),
            _ => t.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/machine_timeline.html")]
struct TimelineFrag {
    attempts: Vec<AttemptView>,
}

struct PortRow {
    uuid: String,
    address: String,
    pxe_enabled: bool,
    physical_network: String,
    extra: String,
}

#[derive(Template)]
#[template(path = "ui/machine.html")]
struct MachinePage {
    chrome: Chrome,
    header: HeaderData,
    attempts: Vec<AttemptView>,
    hardware: Option<Hardware>,
    ports: Vec<PortRow>,
    driver_info: Vec<(String, String)>,
    raw: String,
    console: super::console::Panel,
}

fn header(state: &State, user: &UiUser, n: &Node) -> HeaderData {
    header_for(state, n, user.nonce(), user.csrf_token().to_string())
}

async fn attempts(state: &State, uuid: &str) -> Result<Vec<AttemptView>, ApiError> {
    let keep = state.config.conductor.node_history_max_entries.max(1);
    let events = state
        .store
        .history_list(uuid.to_string(), None, keep)
        .await?;
    Ok(timeline::build(&events)
        .into_iter()
        .enumerate()
        .map(|(i, a)| AttemptView {
            duration: timeline::human(a.duration),
            open: i == 0,
            a,
        })
        .collect())
}

async fn show(
    req: HttpRequest,
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = find(&state, &path, Version::MAX).await?;
    let hardware = state
        .store
        .inventory_get(n.id)
        .await?
        .map(|(inv, _)| machine_view::hardware(&inv));
    let ports = state
        .store
        .port_list(
            PortFilter {
                node_uuid: Some(n.uuid.clone()),
                ..Default::default()
            },
            Page {
                limit: 1000,
                marker: None,
                sort_key: "id".into(),
                descending: false,
            },
        )
        .await?
        .into_iter()
        .map(|p| PortRow {
            uuid: p.uuid,
            address: p.address,
            pxe_enabled: p.pxe_enabled,
            physical_network: p.physical_network.unwrap_or_default(),
            extra: Value::Object(p.extra).to_string(),
        })
        .collect();
    // The API's own masking and view: the page shows what `GET /v1/nodes/{id}` gives.
    let masked = crate::model::secrets::masked(&Value::Object(n.driver_info.clone()));
    let driver_info = masked
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        .unwrap_or_default();
    let base = super::super::base_url(&req, &state);
    let conductor = state.conductor.owner_of(&n.conductor_group, &n.uuid);
    let view = View {
        node: &n,
        v: Version::MAX,
        base: &base,
        conductor: conductor.as_deref(),
        fields: None,
    };
    let raw = serde_json::to_string_pretty(&view).map_err(ApiError::internal)?;
    Ok(page(
        StatusCode::OK,
        &MachinePage {
            chrome: user.chrome("machines"),
            header: header(&state, &user, &n),
            attempts: attempts(&state, &n.uuid).await?,
            hardware,
            ports,
            driver_info,
            raw,
            console: super::console::Panel::new(&user, &n, &format!("/ui/machines/{}", n.uuid)),
        },
    ))
}

/// A JSON value as text: strings without their quotes.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    verb: String,
    nonce: String,
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    /// "yes" once a destructive action was confirmed.
    confirm: Option<String>,
    /// Manual cleaning: the steps (JSON), `[]` by default.
    clean_steps: Option<String>,
    /// Maintenance on: why.
    reason: Option<String>,
}

/// `POST /ui/machines/{uuid}/action`: answers with the new header (errors inline).
async fn act(
    req: HttpRequest,
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, ApiError> {
    user.verify_post(&req, form.csrf.as_deref())?;
    let n = find(&state, &path, Version::MAX).await?;
    let spent = !user.consume_nonce(&form.nonce);
    let mut h = header(&state, &user, &n);
    if spent {
        // The second submit of a double-click: already done (or refused) once.
        return render_header(h);
    }
    let Some(action) = h.actions.iter().find(|a| a.verb == form.verb).cloned() else {
        h.error = Some(not_now(&form.verb, &n));
        return render_header(h);
    };
    if action.destructive && form.confirm.as_deref() != Some("yes") {
        h.confirm = Some(action);
        return render_header(h);
    }
    if form.verb == "delete" {
        return match state.conductor.node_delete(n).await {
            Ok(()) => Ok(HttpResponse::Ok()
                .insert_header(("HX-Redirect", "/ui/machines"))
                .finish()),
            Err(e) => {
                h.error = Some(ApiError::from(e).message);
                render_header(h)
            }
        };
    }
    let uuid = n.uuid.clone();
    if let Err(e) = run(&state, n, &form).await {
        h.error = Some(e.message);
        return render_header(h);
    }
    let n = find(&state, &uuid, Version::MAX).await?;
    render_header(header(&state, &user, &n))
}

/// Ironic's refusal for a verb the page did not offer (a stale page, a crafted form).
fn not_now(verb: &str, n: &Node) -> String {
    crate::conductor::ConductorError::InvalidStateRequested {
        action: verb.to_string(),
        node: n.uuid.clone(),
        state: n.provision_state.clone(),
    }
    .to_string()
}

/// The conductor call the JSON API makes for `form.verb`.
async fn run(state: &State, n: Node, form: &ActionForm) -> Result<(), ApiError> {
    let c = &state.conductor;
    match form.verb.as_str() {
        "power-on" => Ok(c.node_set_power_state(n, "power on", None).await?),
        "power-off" => Ok(c.node_set_power_state(n, "power off", None).await?),
        "reboot" => Ok(c.node_set_power_state(n, "rebooting", None).await?),
        "maintenance-on" => {
            let reason = form.reason.clone().filter(|r| !r.trim().is_empty());
            c.node_set_maintenance(n, true, reason).await?;
            Ok(())
        }
        "maintenance-off" => {
            c.node_set_maintenance(n, false, None).await?;
            Ok(())
        }
        verb => {
            let (event, _) = fsm::verb(verb).ok_or_else(|| {
                ApiError::bad_request(format!("Invalid provision state verb {verb}"))
            })?;
            let mut args = ProvisionArgs::default();
            if verb == "clean" {
                let text = form.clean_steps.as_deref().unwrap_or("[]");
                let steps: Value = serde_json::from_str(text).map_err(|e| {
                    ApiError::bad_request(format!("clean_steps is not valid JSON: {e}"))
                })?;
                args.clean_steps = Some(steps);
            }
            Ok(c.node_set_provision_state(n, verb, event, args).await?)
        }
    }
}

fn render_header(header: HeaderData) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(fragment(&HeaderFrag { header })?))
}

/// `GET /ui/machines/{uuid}/events`: `header` when the node changes, `timeline` when its
/// history grows.
async fn events(
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let n = find(&state, &path, Version::MAX).await?;
    let uuid = n.uuid;
    let rx = state.store.subscribe();
    let state = state.into_inner();
    // What the page already shows: the header is sent again only when the node differs, so
    // the stream's opening resync does not wipe an error the header is showing.
    let shown = std::sync::Arc::new(std::sync::Mutex::new(q.into_inner().shown));
    Ok(live::stream(rx, true, move |update| {
        let (node, history) = match &update {
            Update::Resync => (true, true),
            Update::Changes(cs) => {
                let mine = cs.iter().filter(|c| c.node_uuid == uuid);
                let kinds: Vec<ChangeKind> = mine.map(|c| c.kind).collect();
                (
                    kinds.iter().any(|k| *k != ChangeKind::History),
                    kinds.contains(&ChangeKind::History),
                )
            }
        };
        let (state, uuid, shown, user) = (state.clone(), uuid.clone(), shown.clone(), user.clone());
        async move {
            let mut out = Vec::new();
            if node {
                // A failed read answers None: `live::stream` resyncs shortly.
                match state.store.node_get(uuid.clone()).await.ok()? {
                    Some(n) => {
                        let fp = Some(fingerprint(&n));
                        let mut last = shown.lock().unwrap_or_else(|p| p.into_inner());
                        // Unchanged header: only the timeline (if any) is sent.
                        if *last != fp {
                            *last = fp;
                            drop(last);
                            // A nonce only for a header that is sent (each one is kept
                            // until spent or aged out).
                            let csrf = user.csrf_token().to_string();
                            let h = header_for(&state, &n, user.nonce(), csrf);
                            if let Ok(html) = fragment(&HeaderFrag { header: h }) {
                                out.push(Event::new("header", html));
                            }
                        }
                    }
                    None => out.push(Event::new(
                        "header",
                        "<div id=\"machine-header\"><p class=\"error\">This machine was deleted.</p></div>",
                    )),
                }
            }
            if history {
                let attempts = attempts(&state, &uuid).await.ok()?;
                if let Ok(html) = fragment(&TimelineFrag { attempts }) {
                    out.push(Event::new("timeline", html));
                }
            }
            Some(out)
        }
    }))
}

#[derive(Deserialize)]
struct EventsQuery {
    /// The `fingerprint` of the node as the page rendered it.
    shown: Option<String>,
}

/// Changes whenever anything the header shows may have changed (hex: it goes in a URL).
fn fingerprint(n: &Node) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    (
        &n.updated_at,
        &n.provision_state,
        &n.power_state,
        n.maintenance,
    )
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

fn masked(s: &str) -> String {
    crate::model::secrets::mask_text(s).into_owned()
}

fn header_for(state: &State, n: &Node, nonce: String, csrf: String) -> HeaderData {
    let allow = state.config.conductor.allow_deleting_available_nodes;
    HeaderData {
        uuid: n.uuid.clone(),
        name: n.name.clone().unwrap_or_default(),
        provision_state: n.provision_state.clone(),
        target: n.target_provision_state.clone(),
        power_state: n.power_state.clone().unwrap_or_else(|| "None".into()),
        driver: n.driver.clone(),
        discovered: super::discovered::is_discovered(n, None),
        maintenance: n.maintenance,
        // Masked as the API's view masks them (a URL in them may carry a password).
        maintenance_reason: n.maintenance_reason.as_deref().map(masked),
        fault: n.fault.clone(),
        last_error: n.last_error.as_deref().map(masked),
        actions: machine_view::actions(n, allow),
        nonce,
        csrf,
        error: None,
        confirm: None,
        shown: fingerprint(n),
    }
}

/// `GET /ui/machines/{uuid}/header`: the header alone (a confirmation's "cancel").
async fn header_only(
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = find(&state, &path, Version::MAX).await?;
    render_header(header(&state, &user, &n))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/machines/{uuid}").route(web::get().to(show)))
        .service(web::resource("/machines/{uuid}/header").route(web::get().to(header_only)))
        .service(web::resource("/machines/{uuid}/action").route(web::post().to(act)))
        .service(web::resource("/machines/{uuid}/events").route(web::get().to(events)));
}
