//! The HTTP boot server (its own port, not the API): `/boot.ipxe`, per-machine scripts at
//! `/ipxe/<mac>`, the iPXE programs at `/ipxe/<file>` (UEFI HTTP boot), files under
//! `[pxe] http_root` at `/files/...` and cached images at `/images/<key>.img`, with Range
//! support, streamed from disk. Every connection passes the framing gate
//! (`crate::http::framing`), so malformed HTTP gets an answer with a body.

use std::net::{SocketAddr, TcpListener};

use actix_web::{web, HttpRequest, HttpResponse};
use tokio_util::sync::CancellationToken;

use super::dhcp::options::{find_program, Program};
use super::{Boot, BootError};
use crate::http::framing::Render;
use crate::http::serve::Options;
use crate::model::netlog::NetEvent;

fn ipxe(text: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body(text)
}

async fn boot_script(boot: web::Data<Boot>) -> HttpResponse {
    match super::templates::render("boot.ipxe", &[("base", &boot.base_url())]) {
        Ok(s) => ipxe(s),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// `/ipxe/{name}`: a MAC (aa-bb-cc-dd-ee-ff as iPXE's `hexhyp`, or any form
/// `Mac::parse_lenient` takes) gets its script; a boot program name gets the file.
async fn ipxe_path(
    req: HttpRequest,
    boot: web::Data<Boot>,
    name: web::Path<String>,
) -> HttpResponse {
    if let Some(mac) = crate::model::mac::Mac::parse_lenient(&name).map(|m| m.to_string()) {
        return match mac_script(&boot, req.peer_addr(), &mac).await {
            Ok(s) => ipxe(s),
            Err(e) => HttpResponse::InternalServerError().body(e),
        };
    }
    match find_program(&boot.ipxe_dir, &name) {
        Some(Program::File(p)) => match actix_files::NamedFile::open(&p) {
            Ok(f) => f.read_mode_threshold(u64::MAX).into_response(&req),
            Err(_) => HttpResponse::NotFound().body("not found\n"),
        },
        Some(Program::Embedded(bytes)) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(bytes),
        None => HttpResponse::NotFound().body("not found\n"),
    }
}

/// The iPXE script for `mac`, with what became of it logged (a script that could not be
/// rendered was not served); the error is the 500's body. Shared with the fast path.
pub(super) async fn mac_script(
    boot: &Boot,
    peer: Option<SocketAddr>,
    mac: &str,
) -> Result<String, String> {
    let client = peer.map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(mac = %mac, client = %client, "iPXE script requested");
    if let Some(ev) = &boot.events {
        ev.to_mac(
            mac.to_string(),
            format!("HTTP: iPXE script requested from {client}"),
        );
    }
    let ip = peer.map(|a| a.ip().to_string()).unwrap_or_default();
    let script = boot.script_for(mac).await;
    let mut e = NetEvent::new(
        "http",
        ip,
        if script.is_ok() { "served" } else { "failed" },
        format!("iPXE script for {mac}"),
    );
    if let Err(err) = &script {
        e.reason = Some(err.to_string());
    }
    boot.store.netlog().push(e);
    script.map_err(|e| {
        tracing::error!(mac = %mac, error = %e, "cannot render boot script");
        e.to_string()
    })
}

/// Record a boot file served (`what` = "METHOD /path"): node history, the network log and
/// the service log. Shared with the fast path.
pub(super) fn file_served(
    boot: &Boot,
    peer: Option<SocketAddr>,
    what: &str,
    rel: &std::path::Path,
    size: u64,
    range: Option<&str>,
) {
    let size = format!(", {size} bytes");
    if let (Some(ev), Some(peer)) = (&boot.events, peer) {
        ev.to_ip(peer.ip(), format!("HTTP: {what}{size}"));
    }
    let client = peer.map(|a| a.ip().to_string()).unwrap_or_default();
    let e = NetEvent::new("http", client, "served", format!("{what}{size}"));
    boot.store.netlog().push(e);
    let peer = peer.map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(client = %peer, file = %rel.display(), range = ?range, "HTTP boot: file served");
}

/// A path under http_root: plain components only (no `..`, no absolute paths, no hidden).
pub(super) fn safe_path(rel: &str) -> Option<std::path::PathBuf> {
    let mut out = std::path::PathBuf::new();
    for part in rel.split('/') {
        if part.is_empty() {
            continue;
        }
        if part == "."
            || part == ".."
            || part.starts_with('.')
            || part.contains('\\')
            || part.contains('\0')
        {
            return None;
        }
        out.push(part);
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

async fn files(req: HttpRequest, boot: web::Data<Boot>, rel: web::Path<String>) -> HttpResponse {
    let Some(rel) = safe_path(&rel) else {
        return refused(&req);
    };
    let path = boot.http_root.join(&rel);
    serve_file(&req, path, &rel, &boot).await
}

fn refused(req: &HttpRequest) -> HttpResponse {
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(client = %peer, path = %req.path(), "HTTP boot: path refused");
    HttpResponse::BadRequest().body("bad path\n")
}

/// An image cache file name: `<hex key>.img`.
pub(super) fn image_name(name: &str) -> bool {
    name.strip_suffix(".img")
        .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `/images/<key>.img`: an image the conductor cached for a deploy (names are hex keys).
async fn images(req: HttpRequest, boot: web::Data<Boot>, name: web::Path<String>) -> HttpResponse {
    if !image_name(&name) {
        return refused(&req);
    }
    let rel = std::path::PathBuf::from(name.as_str());
    serve_file(&req, boot.image_dir.join(&rel), &rel, &boot).await
}

async fn serve_file(
    req: &HttpRequest,
    path: std::path::PathBuf,
    rel: &std::path::Path,
    boot: &Boot,
) -> HttpResponse {
    let peer = req.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let ip = req.peer_addr().map(|a| a.ip());
    let client = ip.map(|a| a.to_string()).unwrap_or_default();
    let what = format!("{} {}", req.method(), req.path());
    match actix_files::NamedFile::open_async(&path).await {
        Ok(f) if path.is_file() => {
            let range = req.headers().get("range").and_then(|v| v.to_str().ok());
            file_served(boot, req.peer_addr(), &what, rel, f.metadata().len(), range);
            // Read on the worker (boot files are page-cached) rather than handing every 64 KiB
            // chunk to a blocking thread: 0.65x -> 1.1x nginx's throughput in bench/.
            f.use_etag(true)
                .use_last_modified(true)
                .read_mode_threshold(u64::MAX)
                .into_response(req)
        }
        _ => {
            let mut e = NetEvent::new("http", client, "failed", what);
            e.reason = Some("not found".into());
            boot.store.netlog().push(e);
            tracing::info!(client = %peer, file = %rel.display(), "HTTP boot: not found");
            HttpResponse::NotFound().body("not found\n")
        }
    }
}

/// More routes for the boot server, given by whoever composes the appliance (the agents'
/// lookup and heartbeat endpoints): registered after the boot routes.
pub type ExtraRoutes = std::sync::Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// A boot file request's result, as the metrics name it.
pub(super) fn http_result(status: u16) -> &'static str {
    match status {
        200..=299 => "served",
        304 => "not_modified",
        403 => "refused",
        404 => "not_found",
        416 => "bad_range",
        400..=499 => "bad_request",
        _ => "error",
    }
}

/// Bind `[pxe] http_port` on the interface address and serve until cancelled; `render`
/// words the framing gate's refusals.
pub fn serve(
    boot: Boot,
    extra: Option<ExtraRoutes>,
    render: Render,
    cancel: CancellationToken,
) -> Result<SocketAddr, BootError> {
    let addr = SocketAddr::new(boot.net.ip.into(), boot.http_port);
    let listener = TcpListener::bind(addr).map_err(|e| BootError::Bind {
        what: format!("HTTP boot on {addr}"),
        source: e,
    })?;
    let local = listener.local_addr().unwrap_or(addr);
    let data = web::Data::new(boot);
    let front = super::http_fast::front(data.clone().into_inner());
    // As actix_web::HttpServer had it: 2 workers, 30 s to finish downloads on stop.
    let opts = Options {
        name: "http-boot",
        workers: 2,
        shutdown_timeout: 30,
        tls: None,
        render,
        front: Some(front),
    };
    let server = crate::http::serve::server(listener, opts, move || {
        let extra = extra.clone();
        actix_web::App::new()
            .app_data(data.clone())
            // HEAD as well as GET: UEFI HTTP boot asks HEAD first.
            .route(
                "/boot.ipxe",
                web::route()
                    .guard(
                        actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()),
                    )
                    .to(boot_script),
            )
            .route(
                "/ipxe/{name}",
                web::route()
                    .guard(
                        actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()),
                    )
                    .to(ipxe_path),
            )
            .route(
                "/images/{name}",
                web::route()
                    .guard(
                        actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()),
                    )
                    .to(images),
            )
            .route(
                "/files/{path:.*}",
                web::route()
                    .guard(
                        actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()),
                    )
                    .to(files),
            )
            .configure(move |cfg| {
                if let Some(f) = &extra {
                    f(cfg)
                }
            })
            .default_service(web::to(|| async {
                HttpResponse::NotFound().body("not found\n")
            }))
            .wrap_fn(|req, srv| {
                // The agents' API routes (`/`, `/v1/...`) are counted as lookups and
                // heartbeats; everything else here is a boot file request.
                let boot_file = req.path() != "/" && !req.path().starts_with("/v1");
                let fut = actix_web::dev::Service::call(srv, req);
                async move {
                    let res = fut.await;
                    if boot_file {
                        let status = res.as_ref().map_or(500, |r| r.status().as_u16());
                        crate::metrics::http_boot_request(http_result(status));
                    }
                    res
                }
            })
    })
    .map_err(|e| BootError::Bind {
        what: format!("HTTP boot on {addr}"),
        source: e,
    })?;
    let handle = server.handle();
    tokio::spawn(server);
    tokio::spawn(async move {
        cancel.cancelled().await;
        handle.stop(true).await;
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::safe_path;

    #[test]
    fn traversal_is_refused() {
        assert!(safe_path("vmlinuz").is_some());
        assert!(safe_path("images/disk.img").is_some());
        for bad in [
            "../etc/passwd",
            "a/../../b",
            ".hidden",
            "a/./b",
            "",
            "/",
            "a\\b",
        ] {
            assert!(safe_path(bad).is_none(), "{bad}");
        }
        assert_eq!(
            safe_path("//x//y").unwrap(),
            std::path::PathBuf::from("x/y")
        );
    }
}
