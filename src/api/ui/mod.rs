//! The operator console: server-rendered HTML under `/ui/` on the API listener.
//!
//! Each view is its own file with its own `configure`, called from [`configure`] below.
//! Pages are askama templates (`templates/ui/`, all extending `base.html`; askama escapes
//! every value, so no `|safe` on data), rendered from the same view code as the JSON API.
//! Static files (`assets/ui/`: vendored htmx, its SSE extension, xterm.js, ours) are embedded
//! and served under `/ui/static/`. Every UI response carries a strict CSP (scripts only from
//! this origin, none inline) and the other hardening headers (`security_headers`).

pub mod console;
pub mod deploy;
pub mod discovered;
pub mod enroll;
pub mod form_data;
pub mod forms;
pub mod live;
pub mod machine;
pub mod machine_view;
pub mod machines;
pub mod network;
pub mod session;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use rust_embed::RustEmbed;

use super::error::ApiError;

pub use session::{UiState, UiUser};

/// Scripts and everything else from this origin only; no inline script, no eval, no
/// framing. Styles allow 'unsafe-inline' because xterm.js's DOM renderer and htmx's swap
/// transitions set element styles at run time (a style cannot run code).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(RustEmbed)]
#[folder = "assets/ui/"]
struct Assets;

/// What `base.html` needs from every page.
pub struct Chrome {
    /// Sent back by htmx (`hx-headers`) and forms (`_csrf`) on every POST.
    pub csrf: String,
    /// The signed-in user (None under noauth: no logout button).
    pub user: Option<String>,
    /// Which tab of the top nav is current ("machines", "network", "enroll", …).
    pub nav: &'static str,
}

/// Every UI route: `/ui/…` (the caller mounts this under `/ui`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::FormConfig::default()
            .error_handler(|e, _| ApiError::bad_request(format!("Invalid form: {e}")).into()),
    )
    .service(web::resource("/static/{path:.*}").route(web::get().to(asset)))
    .configure(session::configure)
    .configure(machines::configure)
    .configure(forms::configure)
    .configure(machine::configure)
    .configure(network::configure)
    .configure(console::configure);
}

/// Render a template as a full HTML response (a template error is a 500 in Ironic's shape,
/// never a half page).
pub fn page(status: StatusCode, t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => actix_web::ResponseError::error_response(&ApiError::internal(e)),
    }
}

/// Render a template to a string (fragments for htmx swaps and SSE pushes).
pub fn fragment(t: &impl Template) -> Result<String, ApiError> {
    t.render().map_err(ApiError::internal)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        // Licence texts and VENDORED.md.
        _ => "text/plain; charset=utf-8",
    }
}

/// `GET /ui/static/{path}`: an embedded file with its content type and an ETag (its
/// SHA-256), revalidated on every use so a new build's files are never stale.
async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    let Some(file) = Assets::get(&path) else {
        return actix_web::ResponseError::error_response(&ApiError::unknown_path());
    };
    let hash = file.metadata.sha256_hash();
    let etag: String = std::iter::once("\"".to_string())
        .chain(hash.iter().take(16).map(|b| format!("{b:02x}")))
        .chain(std::iter::once("\"".to_string()))
        .collect();
    let cached = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|t| t.trim() == etag));
    let mut resp = if cached {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if cached {
        return resp.finish();
    }
    resp.content_type(content_type(&path))
        .body(file.data.into_owned())
}

/// The hardening headers on every `/ui/` response (set only where a handler has not).
pub async fn security_headers<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show live state and a CSRF token: never from a cache.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// Every request other than GET/HEAD to `/ui/` must come from this origin: refused with 403
/// before any handler (or its form parsing) runs. The CSRF token is checked by the handler
/// (`UiUser::verify_post`), which knows the session.
pub async fn refuse_cross_site<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<B>>, actix_web::Error> {
    let safe = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let allowed = safe
        || req
            .app_data::<web::Data<UiState>>()
            .is_some_and(|s| session::same_origin(s, req.request()));
    if !allowed {
        let resp = actix_web::ResponseError::error_response(&session::cross_site());
        return Ok(req.into_response(resp).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Whether `GET /` came from a browser (which is then sent to the UI). JSON clients, and
/// those that accept anything (`*/*`: curl, the baremetal CLI), keep the version document.
pub fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .any(|m| m.split(';').next().unwrap_or("").trim() == "text/html")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_browsers_are_sent_to_the_ui() {
        let with = |a: &str| {
            wants_html(
                &TestRequest::get()
                    .insert_header(("accept", a))
                    .to_http_request(),
            )
        };
        assert!(with(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!with("*/*"));
        assert!(!with("application/json"));
        assert!(!with("application/json, text/plain"));
        assert!(!wants_html(&TestRequest::get().to_http_request()));
    }

    #[test]
    fn vendored_assets_are_embedded_with_types() {
        for (f, t) in [
            ("htmx.min.js", "text/javascript"),
            ("htmx-ext-sse.min.js", "text/javascript"),
            ("xterm.js", "text/javascript"),
            ("addon-fit.js", "text/javascript"),
            ("xterm.css", "text/css"),
            ("ui.css", "text/css"),
            ("ui.js", "text/javascript"),
            ("console.js", "text/javascript"),
            ("licenses/htmx.LICENSE", "text/plain"),
        ] {
            assert!(Assets::get(f).is_some(), "{f}");
            assert!(content_type(f).starts_with(t), "{f}");
        }
    }
}
