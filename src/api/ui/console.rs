//! The Console view: `/ui/machines/{uuid}/console`, a full-width xterm.js terminal on the
//! node's serial console, and `/ui/machines/{uuid}/console/ws`, the WebSocket it talks over
//! (binary frames out: the replay of what scrolled by, then live output; text or binary
//! frames in: keystrokes). Every tab is one more viewer of the conductor's single session.
//! A POST enables or disables the console through the same conductor call as
//! `PUT /v1/nodes/{id}/states/console`. `console_panel.html` is the embeddable part (the
//! Machine page includes it with a [`Panel`] named `console`); its script is
//! `assets/ui/console.js`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use askama::Template;
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::super::error::ApiError;
use super::super::microversion::Version;
use super::super::State;
use super::{page, Chrome, UiUser};
use crate::conductor::console::Viewer;
use crate::model::node::Node;

/// What `console_panel.html` shows for one node.
pub struct Panel {
    pub uuid: String,
    pub enabled: bool,
    /// The node has a console interface at all (not `no-console`).
    pub available: bool,
    pub interface: String,
    /// The WebSocket path and where the enable/disable form posts.
    pub ws: String,
    pub action: String,
    /// Where the form returns to (the page that embeds the panel).
    pub back: String,
    pub csrf: String,
    /// Why the last attempt to enable failed (the node's last_error), when disabled.
    pub last_error: Option<String>,
}

impl Panel {
    /// The panel for `node`, returning to `back` (a `/ui/` path) after enable/disable.
    pub fn new(user: &UiUser, node: &Node, back: &str) -> Panel {
        let interface = node.interfaces.get("console").unwrap_or("").to_string();
        Panel {
            uuid: node.uuid.clone(),
            enabled: node.console_enabled,
            available: !interface.is_empty() && !interface.starts_with("no-"),
            interface,
            ws: format!("/ui/machines/{}/console/ws", node.uuid),
            action: format!("/ui/machines/{}/console", node.uuid),
            back: back.to_string(),
            csrf: user.csrf_token().to_string(),
            last_error: (!node.console_enabled)
                .then_some(node.last_error.as_deref())
                .flatten()
                .map(|e| crate::model::secrets::mask_text(e).into_owned()),
        }
    }
}

#[derive(Template)]
#[template(path = "ui/console.html")]
struct ConsolePage {
    chrome: Chrome,
    name: String,
    uuid: String,
    console: Panel,
    error: Option<String>,
}

async fn node(state: &State, uuid: &str) -> Result<Node, ApiError> {
    super::super::nodes::find(state, uuid, Version::MAX).await
}

fn render(user: &UiUser, n: &Node, error: Option<String>) -> HttpResponse {
    let back = format!("/ui/machines/{}/console", n.uuid);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        status,
        &ConsolePage {
            chrome: user.chrome("machines"),
            name: n.name.clone().unwrap_or_else(|| n.uuid.clone()),
            uuid: n.uuid.clone(),
            console: Panel::new(user, n, &back),
            error,
        },
    )
}

/// `GET /ui/machines/{uuid}/console`
async fn show(
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = node(&state, &path).await?;
    Ok(render(&user, &n, None))
}

#[derive(Deserialize)]
pub struct ConsoleForm {
    #[serde(default)]
    _csrf: String,
    enabled: String,
    #[serde(default)]
    back: String,
}

/// `POST /ui/machines/{uuid}/console` (`enabled=true|false`): as `PUT /states/console`.
async fn set(
    req: HttpRequest,
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
    form: web::Form<ConsoleForm>,
) -> Result<HttpResponse, ApiError> {
    user.verify_post(&req, Some(&form._csrf))?;
    let enabled = super::super::params::parse_bool("enabled", &form.enabled)?;
    let n = node(&state, &path).await?;
    if let Err(e) = state.conductor.node_set_console(n.clone(), enabled).await {
        let e = ApiError::from(e);
        return Ok(render(&user, &n, Some(e.message.clone())));
    }
    // Only back into the console or machine pages of the UI.
    let back = if form.back.starts_with("/ui/machines/") && !form.back.contains("//") {
        form.back.clone()
    } else {
        format!("/ui/machines/{}/console", n.uuid)
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back))
        .finish())
}

/// `GET /ui/machines/{uuid}/console/ws`: same rights as `PUT /states/console` (a UI user),
/// and only from this origin, since a WebSocket is not bound by the same-origin policy.
async fn ws(
    req: HttpRequest,
    body: web::Payload,
    user: UiUser,
    state: web::Data<State>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.check_origin(&req)?;
    let n = node(&state, &path).await?;
    let viewer = state.conductor.console_attach(&n.uuid)?;
    let (resp, session, msgs) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("Not a WebSocket request: {e}")))?;
    actix_web::rt::spawn(relay(viewer, session, msgs));
    Ok(resp)
}

/// One browser viewer: replay, then output out and keystrokes in, until either side ends.
async fn relay(mut v: Viewer, mut ws: actix_ws::Session, mut msgs: actix_ws::MessageStream) {
    if !v.replay.is_empty() && ws.binary(v.replay.clone()).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            out = v.output.recv() => match out {
                Ok(b) => if ws.binary(b).await.is_err() { return },
                // A slow tab misses what it could not keep up with.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => {
                    let _ = ws.close(Some(CloseReason {
                        code: CloseCode::Normal,
                        description: Some("console disabled".into()),
                    })).await;
                    return;
                }
            },
            m = msgs.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    if v.input.send(Bytes::copy_from_slice(t.as_bytes())).await.is_err() { return }
                }
                Some(Ok(Message::Binary(b))) => {
                    if v.input.send(b).await.is_err() { return }
                }
                Some(Ok(Message::Ping(p))) => {
                    if ws.pong(&p).await.is_err() { return }
                }
                Some(Ok(Message::Close(r))) => {
                    let _ = ws.close(r).await;
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/machines/{uuid}/console")
            .route(web::get().to(show))
            .route(web::post().to(set)),
    )
    .service(web::resource("/machines/{uuid}/console/ws").route(web::get().to(ws)));
}
