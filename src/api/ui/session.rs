//! Who is using the UI, and whether a POST is really theirs.
//!
//! `UiUser` is the extractor every UI handler takes. Under `noauth` everyone is let in (the
//! API listener is loopback-only then, checked at config load); under `http_basic` a valid
//! `ironbox_session` cookie is needed, else the browser is sent to `/ui/login`, whose form
//! checks the same htpasswd file as the API (`auth::BasicAuth`). Sessions live in memory
//! (a restart logs everyone out) and end after `IDLE` without a request.
//!
//! Every state-changing request must carry the session's CSRF token (`_csrf` form field or
//! `X-CSRF-Token` header) and come from this origin (`Sec-Fetch-Site`/`Origin`): both modes,
//! since under noauth a cross-site form could otherwise drive a loopback appliance. One-shot
//! nonces in forms make a double-click submit once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::super::auth::BasicAuth;
use super::super::error::ApiError;
use super::{page, Chrome};

pub const COOKIE: &str = "ironbox_session";
/// A session unused this long is gone.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most (the oldest idle one goes first beyond that).
const MAX_SESSIONS: usize = 10_000;
/// How long a form's nonce stays redeemable, and how many are kept.
const NONCE_TTL: Duration = Duration::from_secs(3600);
const MAX_NONCES: usize = 20_000;
/// Failed logins allowed per user name within `LOCKOUT` before it is refused outright.
const MAX_FAILURES: u32 = 5;
const LOCKOUT: Duration = Duration::from_secs(60);

/// 32 random bytes as hex: session ids, CSRF tokens, nonces.
fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Sessions are looked up by a digest of the cookie, so the table never holds a usable id
/// and the lookup's timing says nothing about the id.
fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

struct Session {
    user: String,
    csrf: String,
    last_seen: Instant,
}

/// The UI's shared state (one per server, shared by all workers).
pub struct UiState {
    basic: Option<Arc<BasicAuth>>,
    /// Served over TLS: the cookie gets `Secure`.
    tls: bool,
    /// `[api] public_endpoint`'s origin, accepted besides the request's own Host.
    public_origin: Option<String>,
    /// The CSRF token of noauth pages and of the login form (no session yet).
    process_csrf: String,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    nonces: Mutex<HashMap<String, Instant>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl UiState {
    pub fn new(basic: Option<Arc<BasicAuth>>, tls: bool, public_endpoint: Option<&str>) -> Self {
        UiState {
            basic,
            tls,
            public_origin: public_endpoint.map(origin_of),
            process_csrf: random_token(),
            sessions: Mutex::new(HashMap::new()),
            nonces: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn session(&self, cookie: &str) -> Option<(String, String)> {
        let mut sessions = self.sessions.lock().ok()?;
        let key = digest(cookie);
        let s = sessions.get_mut(&key)?;
        if s.last_seen.elapsed() > IDLE {
            sessions.remove(&key);
            return None;
        }
        s.last_seen = Instant::now();
        Some((s.user.clone(), s.csrf.clone()))
    }

    fn create_session(&self, user: &str) -> Option<String> {
        let id = random_token();
        let mut sessions = self.sessions.lock().ok()?;
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.last_seen.elapsed() <= IDLE);
        }
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                sessions.remove(&k);
            }
        }
        sessions.insert(
            digest(&id),
            Session {
                user: user.to_string(),
                csrf: random_token(),
                last_seen: Instant::now(),
            },
        );
        Some(id)
    }

    fn end_session(&self, cookie: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&digest(cookie));
        }
    }

    /// Err with the wait when `user` has failed too often lately.
    fn locked_out(&self, user: &str) -> bool {
        self.failures
            .lock()
            .ok()
            .and_then(|f| f.get(user).copied())
            .is_some_and(|(n, since)| n >= MAX_FAILURES && since.elapsed() < LOCKOUT)
    }

    fn record_failure(&self, user: &str) {
        if let Ok(mut f) = self.failures.lock() {
            if f.len() >= MAX_SESSIONS {
                f.retain(|_, (_, since)| since.elapsed() < LOCKOUT);
            }
            let e = f.entry(user.to_string()).or_insert((0, Instant::now()));
            if e.1.elapsed() >= LOCKOUT {
                *e = (0, Instant::now());
            }
            e.0 = e.0.saturating_add(1);
        }
    }

    fn is_noauth(&self) -> bool {
        self.basic.is_none()
    }
}

/// `scheme://host[:port]` of a URL (its origin as a browser sends it).
fn origin_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => url.to_ascii_lowercase(),
    }
}

fn cookie_value<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The signed-in user of a UI request (see the module header).
#[derive(Clone)]
pub struct UiUser {
    /// The user name (`None` under noauth).
    pub name: Option<String>,
    csrf: String,
    state: web::Data<UiState>,
}

impl UiUser {
    /// The token this user's forms and htmx requests must send back.
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// What every page's layout needs (CSRF token for htmx, who is signed in, which tab).
    pub fn chrome(&self, nav: &'static str) -> Chrome {
        Chrome {
            csrf: self.csrf.clone(),
            user: self.name.clone(),
            nav,
        }
    }

    /// A fresh one-shot token for a form; `consume_nonce` accepts it once.
    pub fn nonce(&self) -> String {
        let n = random_token();
        if let Ok(mut nonces) = self.state.nonces.lock() {
            if nonces.len() >= MAX_NONCES {
                nonces.retain(|_, t| t.elapsed() < NONCE_TTL);
            }
            if nonces.len() >= MAX_NONCES {
                let oldest = nonces
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    nonces.remove(&k);
                }
            }
            nonces.insert(n.clone(), Instant::now());
        }
        n
    }

    /// True only the first time `nonce` is presented (and while it is fresh): the second
    /// submit of a double-click finds it spent.
    pub fn consume_nonce(&self, nonce: &str) -> bool {
        self.state
            .nonces
            .lock()
            .ok()
            .and_then(|mut n| n.remove(nonce))
            .is_some_and(|t| t.elapsed() < NONCE_TTL)
    }

    /// For requests that change state without being a POST (a WebSocket upgrade is a GET,
    /// and browsers let any site open one): 403 unless it comes from this origin.
    pub fn check_origin(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if same_origin(&self.state, req) {
            Ok(())
        } else {
            Err(cross_site())
        }
    }

    /// A state-changing request must carry this user's CSRF token (`form_token`, else the
    /// `X-CSRF-Token` header) and come from this origin; 403 in Ironic's shape otherwise.
    pub fn verify_post(&self, req: &HttpRequest, form_token: Option<&str>) -> Result<(), ApiError> {
        check_post(&self.state, req, &self.csrf, form_token)
    }
}

fn check_post(
    state: &UiState,
    req: &HttpRequest,
    expected: &str,
    form_token: Option<&str>,
) -> Result<(), ApiError> {
    if !same_origin(state, req) {
        return Err(cross_site());
    }
    let sent = form_token.or_else(|| {
        req.headers()
            .get("x-csrf-token")
            .and_then(|h| h.to_str().ok())
    });
    let ok = sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())));
    if !ok {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Missing or invalid CSRF token: reload the page and try again.",
        ));
    }
    Ok(())
}

pub(super) fn cross_site() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "Cross-site request refused: the request did not come from this ironbox's own pages.",
    )
}

/// `Sec-Fetch-Site: same-origin` when the browser sends it, else an `Origin` equal to this
/// server's (as addressed by Host, or `[api] public_endpoint`). Neither present: refused.
pub(super) fn same_origin(state: &UiState, req: &HttpRequest) -> bool {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = h("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin");
    }
    let Some(origin) = h("origin") else {
        return false;
    };
    let origin = origin_of(origin);
    if state.public_origin.as_deref() == Some(origin.as_str()) {
        return true;
    }
    // Scheme aside (the same host on another scheme is the same site anyway), the origin
    // must name the host this request was sent to.
    let host = h("host").unwrap_or_default().to_ascii_lowercase();
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| !host.is_empty() && authority == host)
}

/// Why a UI request was not let in.
#[derive(Debug)]
pub enum UiDenied {
    /// No valid session: off to the login form (back to `next` afterwards).
    Login {
        next: String,
        htmx: bool,
    },
    Internal,
}

impl std::fmt::Display for UiDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UiDenied::Login { .. } => f.write_str("Authentication required"),
            UiDenied::Internal => f.write_str("UI state missing"),
        }
    }
}

impl ResponseError for UiDenied {
    fn status_code(&self) -> StatusCode {
        match self {
            UiDenied::Login { htmx: true, .. } => StatusCode::UNAUTHORIZED,
            UiDenied::Login { .. } => StatusCode::SEE_OTHER,
            UiDenied::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            UiDenied::Login { next, htmx } => {
                let to = format!(
                    "/ui/login?{}",
                    serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
                );
                if *htmx {
                    // htmx follows this header with a full page load (a 303 it would swap in).
                    HttpResponse::Unauthorized()
                        .insert_header(("HX-Redirect", to))
                        .finish()
                } else {
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, to))
                        .finish()
                }
            }
            UiDenied::Internal => ApiError::internal("UI state missing").error_response(),
        }
    }
}

impl FromRequest for UiUser {
    type Error = UiDenied;
    type Future = std::future::Ready<Result<UiUser, UiDenied>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(extract(req))
    }
}

fn extract(req: &HttpRequest) -> Result<UiUser, UiDenied> {
    let state = req
        .app_data::<web::Data<UiState>>()
        .cloned()
        .ok_or(UiDenied::Internal)?;
    if state.is_noauth() {
        return Ok(UiUser {
            name: None,
            csrf: state.process_csrf.clone(),
            state,
        });
    }
    match cookie_value(req, COOKIE).and_then(|c| state.session(c)) {
        Some((user, csrf)) => Ok(UiUser {
            name: Some(user),
            csrf,
            state,
        }),
        None => {
            let next = match req.uri().path_and_query() {
                Some(pq) => pq.as_str().to_string(),
                None => "/ui/".into(),
            };
            Err(UiDenied::Login {
                next,
                htmx: req.headers().contains_key("hx-request"),
            })
        }
    }
}

/// Only paths back into the UI: never `//host` or another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui") && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/ui/".into(),
    }
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    error: Option<String>,
    username: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    next: Option<String>,
}

fn login_page(
    state: &UiState,
    next: String,
    error: Option<String>,
    username: String,
) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(
        status,
        &LoginPage {
            chrome: Chrome {
                csrf: state.process_csrf.clone(),
                user: None,
                nav: "login",
            },
            next,
            error,
            username,
        },
    )
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

async fn login_form(state: web::Data<UiState>, q: web::Query<LoginQuery>) -> HttpResponse {
    let next = safe_next(q.next.as_deref());
    if state.is_noauth() {
        return see_other(&next);
    }
    login_page(&state, next, None, String::new())
}

async fn login(
    req: HttpRequest,
    state: web::Data<UiState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    // No session yet: the login form carries the process token (login CSRF is refused too).
    check_post(&state, &req, &state.process_csrf, form.csrf.as_deref())?;
    let next = safe_next(form.next.as_deref());
    let Some(basic) = &state.basic else {
        return Ok(see_other(&next));
    };
    if state.locked_out(&form.username) {
        return Ok(login_page(
            &state,
            next,
            Some("Too many failed logins for this user: wait a minute and try again.".into()),
            form.username,
        ));
    }
    // The password check is bcrypt: run it off the async workers.
    let (b, user, pass) = (basic.clone(), form.username.clone(), form.password);
    let ok = web::block(move || b.verify(&user, &pass))
        .await
        .unwrap_or(false);
    if !ok {
        // Only names in the file are counted: the table stays as small as the file, and
        // made-up names cannot grow it.
        if basic.has_user(&form.username) {
            state.record_failure(&form.username);
        }
        return Ok(login_page(
            &state,
            next,
            Some("Authorization failed: invalid or missing credentials".into()),
            form.username,
        ));
    }
    let id = state
        .create_session(&form.username)
        .ok_or_else(|| ApiError::internal("session table unavailable"))?;
    let secure = state.tls || req.connection_info().scheme() == "https";
    let cookie = format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .insert_header((header::SET_COOKIE, cookie))
        .finish())
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

async fn logout(
    req: HttpRequest,
    user: UiUser,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, ApiError> {
    user.verify_post(&req, form.csrf.as_deref())?;
    if let Some(c) = cookie_value(&req, COOKIE) {
        user.state.end_session(c);
    }
    let to = if user.state.is_noauth() {
        "/ui/"
    } else {
        "/ui/login"
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((
            header::SET_COOKIE,
            format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
        ))
        .finish())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/login")
            .route(web::get().to(login_form))
            .route(web::post().to(login)),
    )
    .service(web::resource("/logout").route(web::post().to(logout)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn state() -> web::Data<UiState> {
        web::Data::new(UiState::new(
            None,
            false,
            Some("https://ironbox.example:6385/"),
        ))
    }

    #[test]
    fn posts_need_the_token_and_this_origin() {
        let s = state();
        let tok = s.process_csrf.clone();
        let req = |hdrs: &[(&str, &str)]| {
            let mut r = TestRequest::post().insert_header(("host", "127.0.0.1:6385"));
            for h in hdrs {
                r = r.insert_header(*h);
            }
            r.to_http_request()
        };
        let same = req(&[("origin", "http://127.0.0.1:6385")]);
        assert!(check_post(&s, &same, &tok, Some(&tok)).is_ok());
        let public = req(&[("origin", "https://IRONBOX.example:6385")]);
        assert!(check_post(&s, &public, &tok, Some(&tok)).is_ok());
        let header_tok = req(&[("sec-fetch-site", "same-origin"), ("x-csrf-token", &tok)]);
        assert!(check_post(&s, &header_tok, &tok, None).is_ok());
        for (r, why) in [
            (req(&[("origin", "http://evil.example")]), "other origin"),
            (req(&[("origin", "http://127.0.0.1:6385.evil")]), "suffix"),
            (
                req(&[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://127.0.0.1:6385"),
                ]),
                "fetch site",
            ),
            (req(&[]), "no origin at all"),
        ] {
            let e = check_post(&s, &r, &tok, Some(&tok)).unwrap_err();
            assert_eq!(e.status.as_u16(), 403, "{why}");
        }
        assert_eq!(
            check_post(&s, &same, &tok, Some("nope"))
                .unwrap_err()
                .status
                .as_u16(),
            403
        );
        assert_eq!(
            check_post(&s, &same, &tok, None)
                .unwrap_err()
                .status
                .as_u16(),
            403
        );
    }

    #[test]
    fn nonces_redeem_once() {
        let s = state();
        let u = UiUser {
            name: None,
            csrf: s.process_csrf.clone(),
            state: s,
        };
        let n = u.nonce();
        assert!(u.consume_nonce(&n));
        assert!(!u.consume_nonce(&n), "second click");
        assert!(!u.consume_nonce("made-up"));
    }

    #[test]
    fn sessions_expire_and_logins_lock_out() {
        let s = state();
        let id = s.create_session("admin").unwrap();
        assert_eq!(s.session(&id).unwrap().0, "admin");
        assert!(s.session("forged").is_none());
        if let Some(sess) = s.sessions.lock().unwrap().get_mut(&digest(&id)) {
            sess.last_seen = Instant::now() - IDLE - Duration::from_secs(1);
        }
        assert!(s.session(&id).is_none(), "idle session expired");
        for _ in 0..MAX_FAILURES {
            assert!(!s.locked_out("bob"));
            s.record_failure("bob");
        }
        assert!(s.locked_out("bob"));
        assert!(!s.locked_out("alice"));
    }

    #[test]
    fn next_stays_in_the_ui() {
        assert_eq!(safe_next(Some("/ui/machines?q=a")), "/ui/machines?q=a");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/v1/nodes",
            "/ui\\..\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/", "{bad}");
        }
    }
}
