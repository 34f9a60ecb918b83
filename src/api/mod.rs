//! The Bare Metal API over HTTP (actix-web): Ironic's paths, fields, microversions, status
//! codes and error bodies. Knows HTTP and Ironic's wire format; reads through `db`, writes
//! through `conductor`, and knows no driver or SQL.
//!
//! Every endpoint is in `routes()` below; the handler lives in the file named after the
//! URL's collection. Each connection passes the framing gate (`crate::http::framing`) before
//! actix-http parses it, and [`refusal`] words its refusals in Ironic's shape too.

/// A resource with its methods and handlers (`GET => handler, ...`); any other method gets
/// Ironic's 405 with an `Allow` header naming these methods.
macro_rules! resource {
    ($path:expr; $($method:ident => $handler:expr),+ $(,)?) => {
        actix_web::web::resource($path)
            $(.route(actix_web::web::method(actix_web::http::Method::$method).to($handler)))+
            .default_service($crate::api::not_allowed(&[$(stringify!($method)),+]))
    };
}

mod allocations;
mod auth;
mod chassis;
mod conductors;
mod deploy_templates;
mod drivers;
pub mod error;
mod events;
#[doc(hidden)]
pub mod fuzzing;
mod inspection_rules;
mod metrics;
pub mod microversion;
mod node_hardware;
mod node_indicators;
mod node_resources;
mod node_states;
mod node_view;
mod node_vifs;
mod nodes;
mod params;
mod patch;
mod portgroups;
mod ports;
mod ramdisk;
mod resource;
mod root;
pub mod rpc;
mod runbooks;
mod step_lists;
pub mod ui;
mod views;
mod vmedia;
mod volume;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, Service};
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::web::{self, get};
use actix_web::{App, HttpRequest, HttpResponse};
use futures_util::future::Either;

use crate::conductor::Conductor;
use crate::config::{AuthStrategy, Config, MetricsAuth};
use crate::db::Store;
use crate::http::framing::Rejection;
use crate::model::volume::{VolumeConnector, VolumeTarget};
use crate::model::{
    allocation::Allocation, chassis::Chassis, conductor::Conductor as ConductorRecord,
    deploy_template::DeployTemplate, node::Node, port::Port, portgroup::Portgroup,
};
use error::ApiError;

pub use auth::AuthFileError;

/// What every handler gets.
pub struct State {
    pub conductor: Conductor,
    pub store: Store,
    pub config: Arc<Config>,
}

/// Base URL for links: `[api] public_endpoint`, else the scheme and Host of the request.
pub fn base_url(req: &HttpRequest, state: &State) -> String {
    if let Some(ep) = &state.config.api.public_endpoint {
        return ep.trim_end_matches('/').to_string();
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// 201 with `Location`.
pub fn created(location: &str, body: serde_json::Value) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", location.to_string()))
        .json(body)
}

/// Every (method, path) → handler, once. Mounted under `/v1` and, as Ironic does for
/// unversioned requests, at the root too.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource!("/nodes"; GET => resource::list::<Node>, POST => resource::create::<Node>),
    )
    .service(resource!("/nodes/detail"; GET => resource::list_detail::<Node>))
    .service(resource!("/nodes/validate"; GET => nodes::validate_query))
    .service(resource!("/nodes/{node}";
        GET => resource::show::<Node>,
        PATCH => resource::update::<Node>,
        DELETE => resource::delete::<Node>,
    ))
    .service(resource!("/nodes/{node}/maintenance";
        PUT => nodes::maintenance_set,
        DELETE => nodes::maintenance_unset,
    ))
    .service(resource!("/nodes/{node}/states"; GET => nodes::states))
    .service(resource!("/nodes/{node}/validate"; GET => nodes::validate))
    .service(resource!("/nodes/{node}/traits";
        GET => node_resources::traits_get,
        PUT => node_resources::traits_set,
        DELETE => node_resources::traits_delete,
    ))
    .service(resource!("/nodes/{node}/traits/{trait}";
        PUT => node_resources::trait_add,
        DELETE => node_resources::trait_delete,
    ))
    .service(resource!("/nodes/{node}/history"; GET => node_resources::history))
    .service(resource!("/nodes/{node}/history/{event}"; GET => node_resources::history_get))
    .service(
        resource!(["/nodes/{node}/ports", "/nodes/{node}/ports/detail"];
            GET => ports::list_for_node,
        ),
    )
    .service(
        resource!(["/nodes/{node}/portgroups", "/nodes/{node}/portgroups/detail"];
            GET => portgroups::list_for_node,
        ),
    )
    .service(resource!("/nodes/{node}/bios"; GET => node_hardware::bios))
    .service(resource!("/nodes/{node}/bios/{name}"; GET => node_hardware::bios_one))
    .service(resource!("/nodes/{node}/firmware"; GET => node_hardware::firmware))
    .service(resource!("/nodes/{node}/inventory"; GET => node_resources::inventory))
    .service(resource!("/nodes/{node}/children"; GET => node_resources::children))
    .service(resource!("/nodes/{node}/states/provision"; PUT => node_states::provision))
    .service(resource!("/nodes/{node}/states/power"; PUT => node_states::power))
    .service(resource!("/nodes/{node}/states/console";
        GET => node_states::console_get,
        PUT => node_states::console_set,
    ))
    .service(resource!("/nodes/{node}/states/raid"; PUT => node_states::raid))
    .service(resource!("/nodes/{node}/states/boot_mode"; PUT => node_states::boot_mode))
    .service(resource!("/nodes/{node}/states/secure_boot"; PUT => node_states::secure_boot))
    .service(resource!("/nodes/{node}/management/boot_device";
        GET => node_states::boot_device_get,
        PUT => node_states::boot_device_set,
    ))
    .service(resource!("/nodes/{node}/management/boot_device/supported";
        GET => node_states::boot_device_supported,
    ))
    .service(resource!("/nodes/{node}/management/inject_nmi"; PUT => node_states::inject_nmi))
    .service(resource!("/nodes/{node}/management/indicators"; GET => node_indicators::list))
    .service(resource!("/nodes/{node}/management/indicators/{indicator}";
        GET => node_indicators::get,
        PUT => node_indicators::set,
    ))
    .service(resource!("/nodes/{node}/vifs";
        GET => node_vifs::list,
        POST => node_vifs::attach,
    ))
    .service(resource!("/nodes/{node}/vifs/{vif}"; DELETE => node_vifs::detach))
    .service(resource!("/nodes/{node}/vendor_passthru/methods"; GET => node_states::vendor_methods))
    .service(web::resource("/nodes/{node}/vendor_passthru").to(node_states::vendor_passthru))
    .service(resource!("/nodes/{node}/vmedia";
        GET => vmedia::get,
        POST => vmedia::attach,
        DELETE => vmedia::detach,
    ))
    .service(resource!("/nodes/{node}/allocation";
        GET => allocations::node_get,
        DELETE => allocations::node_delete,
    ))
    .configure(volume_routes)
    .service(
        // Another method on an unknown sub-path is a 404 like any unknown path.
        web::resource("/nodes/{node}/{field}")
            .route(get().to(nodes::unknown_subpath))
            .default_service(web::to(not_found)),
    )
    .service(resource!("/ports"; GET => resource::list::<Port>, POST => resource::create::<Port>))
    .service(resource!("/ports/detail"; GET => resource::list_detail::<Port>))
    .service(resource!("/ports/{port}";
        GET => resource::show::<Port>,
        PATCH => resource::update::<Port>,
        DELETE => resource::delete::<Port>,
    ))
    .service(resource!("/portgroups";
        GET => resource::list::<Portgroup>,
        POST => resource::create::<Portgroup>,
    ))
    .service(resource!("/portgroups/detail"; GET => resource::list_detail::<Portgroup>))
    .service(resource!("/portgroups/{pg}";
        GET => resource::show::<Portgroup>,
        PATCH => resource::update::<Portgroup>,
        DELETE => resource::delete::<Portgroup>,
    ))
    .service(
        resource!(["/portgroups/{pg}/ports", "/portgroups/{pg}/ports/detail"];
            GET => ports::list_for_portgroup,
        ),
    )
    .service(resource!("/chassis";
        GET => resource::list::<Chassis>,
        POST => resource::create::<Chassis>,
    ))
    .service(resource!("/chassis/detail"; GET => resource::list_detail::<Chassis>))
    .service(resource!("/chassis/{chassis}";
        GET => resource::show::<Chassis>,
        PATCH => resource::update::<Chassis>,
        DELETE => resource::delete::<Chassis>,
    ))
    .service(
        resource!(["/chassis/{chassis}/nodes", "/chassis/{chassis}/nodes/detail"];
            GET => chassis::nodes,
        ),
    )
    .service(resource!("/drivers"; GET => drivers::list))
    .service(resource!("/drivers/{driver}"; GET => drivers::get))
    .service(resource!("/drivers/{driver}/properties"; GET => drivers::properties))
    .service(resource!("/drivers/{driver}/raid/logical_disk_properties"; GET => drivers::raid_logical_disk_properties))
    .service(resource!("/conductors"; GET => resource::list::<ConductorRecord>))
    .service(resource!("/conductors/{hostname}"; GET => resource::show::<ConductorRecord>))
    .service(resource!("/allocations";
        GET => resource::list::<Allocation>,
        POST => allocations::create,
    ))
    .service(resource!("/allocations/{allocation}";
        GET => resource::show::<Allocation>,
        PATCH => resource::update::<Allocation>,
        DELETE => resource::delete::<Allocation>,
    ))
    .service(resource!("/deploy_templates";
        GET => resource::list::<DeployTemplate>,
        POST => deploy_templates::create,
    ))
    .service(resource!("/deploy_templates/{template}";
        GET => resource::show::<DeployTemplate>,
        PATCH => resource::update::<DeployTemplate>,
        DELETE => resource::delete::<DeployTemplate>,
    ))
    .service(resource!("/runbooks"; GET => runbooks::list, POST => runbooks::create))
    .service(resource!("/runbooks/{runbook}";
        GET => runbooks::show,
        PATCH => runbooks::update,
        DELETE => runbooks::delete,
    ))
    .service(resource!("/runbooks/{runbook}/traits";
        GET => runbooks::traits_get,
        PUT => runbooks::traits_set,
        DELETE => runbooks::traits_delete,
    ))
    .service(resource!("/runbooks/{runbook}/traits/{trait}";
        PUT => runbooks::trait_add,
        DELETE => runbooks::trait_delete,
    ))
    .service(resource!("/inspection_rules";
        GET => inspection_rules::list,
        POST => inspection_rules::create,
        DELETE => inspection_rules::delete_all,
    ))
    .service(resource!("/inspection_rules/{rule}";
        GET => inspection_rules::show,
        PATCH => inspection_rules::update,
        DELETE => inspection_rules::delete,
    ))
    .service(resource!("/shards"; GET => root::shards))
    .service(resource!("/events"; POST => events::create))
    .configure(ramdisk::routes);
}

/// Volume connectors and targets (1.32), and their lists under a node (registered before
/// the nodes' catch-all sub-path).
fn volume_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource!("/volume"; GET => volume::root))
        .service(resource!("/volume/connectors";
            GET => resource::list::<VolumeConnector>,
            POST => resource::create::<VolumeConnector>,
        ))
        .service(resource!("/volume/connectors/{connector}";
            GET => resource::show::<VolumeConnector>,
            PATCH => resource::update::<VolumeConnector>,
            DELETE => resource::delete::<VolumeConnector>,
        ))
        .service(resource!("/volume/targets";
            GET => resource::list::<VolumeTarget>,
            POST => resource::create::<VolumeTarget>,
        ))
        .service(resource!("/volume/targets/{target}";
            GET => resource::show::<VolumeTarget>,
            PATCH => resource::update::<VolumeTarget>,
            DELETE => resource::delete::<VolumeTarget>,
        ))
        .service(resource!("/nodes/{node}/volume"; GET => volume::node_root))
        .service(resource!("/nodes/{node}/volume/connectors";
            GET => volume::list_for_node::<VolumeConnector>,
            POST => volume::malformed,
        ))
        .service(resource!("/nodes/{node}/volume/targets";
            GET => volume::list_for_node::<VolumeTarget>,
            POST => volume::malformed,
        ))
        .service(
            resource!(["/nodes/{node}/volume/connectors/{id}", "/nodes/{node}/volume/targets/{id}"];
                GET => volume::malformed,
                PATCH => volume::malformed,
                DELETE => volume::malformed,
            ),
        );
}

/// The ramdisk endpoints for mounting on another server (the boot network's HTTP server):
/// `/` for version discovery, `/v1/lookup` and `/v1/heartbeat/{node}`, with version
/// negotiation. A ramdisk then needs to reach nothing but the boot network.
pub fn ramdisk_service(state: State) -> impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static {
    let state = web::Data::new(state);
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("")
                .app_data(state.clone())
                .wrap_fn(microversion::middleware)
                .service(web::resource("/").route(get().to(root::root)))
                .service(
                    web::scope("/v1")
                        .wrap(actix_web::middleware::from_fn(rpc::forward))
                        .configure(ramdisk::routes),
                ),
        );
    }
}

/// The 405 of a resource that has `methods`: Ironic's body, and `Allow` (RFC 9110 §15.5.6).
fn not_allowed(methods: &'static [&'static str]) -> actix_web::Route {
    web::to(move |req: HttpRequest| {
        let mut resp = actix_web::ResponseError::error_response(&ApiError::method_not_allowed_for(
            req.method().as_str(),
        ));
        if let Ok(allow) = actix_web::http::header::HeaderValue::from_str(&methods.join(", ")) {
            resp.headers_mut()
                .insert(actix_web::http::header::ALLOW, allow);
        }
        std::future::ready(Ok::<_, actix_web::Error>(resp))
    })
}

/// The path as sent must percent-decode to UTF-8: anything else is refused before routing,
/// naming the problem (the router would otherwise match it half-decoded).
fn check_path(path: &str) -> Result<(), ApiError> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            decoded.push(b);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) => decoded.push(v),
            None => {
                let shown: String = path.get(i..).unwrap_or_default().chars().take(3).collect();
                return Err(ApiError::bad_request(format!(
                    "Invalid percent-encoding in the URL path: \"{shown}\" is not % followed by two hex digits."
                )));
            }
        }
        i += 3;
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Err(ApiError::bad_request(
            "The URL path is not valid UTF-8 once percent-decoded.",
        ));
    }
    Ok(())
}

/// `GET /` on the API listener: a browser is sent to the UI, every other client gets the
/// version document.
async fn root_or_ui(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    if ui::wants_html(&req) {
        return HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, "/ui/"))
            .finish();
    }
    root::root(req, state).await
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::unknown_path())
}

/// Build the API server on an already-bound listener.
pub fn server(
    state: State,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> Result<Server, std::io::Error> {
    let basic = match state.config.default.auth_strategy {
        AuthStrategy::HttpBasic => Some(Arc::new(
            auth::BasicAuth::load(
                &state
                    .config
                    .default
                    .http_basic_auth_user_file
                    .to_string_lossy(),
            )
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?,
        )),
        AuthStrategy::Noauth => None,
    };
    let workers = match state.config.api.api_workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n as usize,
    };
    let scrape = state.config.metrics.enabled;
    // `[metrics] auth = "none"`: a scraper without the API's credentials may read it.
    let metrics_open = scrape && state.config.metrics.auth == MetricsAuth::None;
    let ui_state = web::Data::new(ui::UiState::new(
        basic.clone(),
        tls.is_some(),
        state.config.api.public_endpoint.as_deref(),
    ));
    let state = web::Data::new(state);
    let make = move || {
        let basic = basic.clone();
        App::new()
            .app_data(state.clone())
            .default_service(web::to(not_found))
            // Extractor failures, should a handler use one, in Ironic's shape too.
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                ApiError::bad_request(format!("Invalid path parameter: {e}")).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::bad_request(format!("Invalid query string: {e}")).into()
            }))
            .app_data(web::JsonConfig::default().error_handler(|e, _| {
                ApiError::bad_request(format!("Malformed JSON in request body: {e}")).into()
            }))
            .app_data(
                web::PayloadConfig::default()
                    .limit(state.config.api.max_json_body_size as usize * 1024),
            )
            .app_data(ui_state.clone())
            .service(resource!("/"; GET => root_or_ui))
            .service(
                web::scope("/ui")
                    .wrap(actix_web::middleware::from_fn(ui::refuse_cross_site))
                    .wrap(actix_web::middleware::from_fn(ui::security_headers))
                    .configure(ui::configure),
            )
            .service(resource!("/v1"; GET => root::v1))
            .configure(|cfg| {
                if scrape {
                    cfg.service(resource!("/metrics"; GET => metrics::scrape));
                }
            })
            .service(web::scope("/v1").configure(routes))
            .configure(routes)
            // Inside authentication: only an authenticated request is forwarded.
            .wrap(actix_web::middleware::from_fn(rpc::forward))
            .wrap_fn(move |req, srv| {
                // Authentication runs inside version negotiation so 401s carry version headers.
                let public =
                    auth::is_public(req.path()) || (metrics_open && req.path() == "/metrics");
                let denied = match &basic {
                    Some(b) if !public => b
                        .check(
                            req.headers()
                                .get("authorization")
                                .and_then(|h| h.to_str().ok()),
                        )
                        .err(),
                    _ => None,
                }
                .or_else(|| check_path(req.uri().path()).err());
                match denied {
                    Some(e) => {
                        let resp = req
                            .into_response(actix_web::ResponseError::error_response(&e))
                            .map_into_right_body();
                        Either::Left(std::future::ready(Ok(resp)))
                    }
                    None => {
                        let fut = srv.call(req);
                        Either::Right(async move { fut.await.map(|r| r.map_into_left_body()) })
                    }
                }
            })
            .wrap_fn(microversion::middleware)
            // Inside NormalizePath: the route pattern is looked up on the normalized path.
            .wrap_fn(move |req, srv| metrics::middleware(req, srv, scrape))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
    };
    let opts = crate::http::serve::Options {
        name: "api",
        workers,
        shutdown_timeout: 10,
        tls,
        render: refusal,
        front: None,
    };
    crate::http::serve::server(listener, opts, make)
}

/// The framing gate's refusal in Ironic's shape: the double-encoded error body, and the
/// version headers as the microversion middleware stamps its own refusals (the minimum as
/// the version). Also for the boot server, whose agent routes are Ironic API routes.
pub fn refusal(r: &Rejection) -> Vec<u8> {
    let body = ApiError::new(r.status, r.message.clone()).body();
    let (min, max) = (microversion::MIN_MINOR, microversion::MAX_MINOR);
    let id = format!("req-{}", uuid::Uuid::new_v4());
    let headers = [
        ("x-openstack-ironic-api-minimum-version", format!("1.{min}")),
        ("x-openstack-ironic-api-maximum-version", format!("1.{max}")),
        ("x-openstack-ironic-api-version", format!("1.{min}")),
        ("openstack-api-version", format!("baremetal 1.{min}")),
        ("x-openstack-request-id", id.clone()),
        ("openstack-request-id", id),
    ];
    r.http_response("application/json", &headers, body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{check_path, refusal};
    use crate::http::framing::{Gate, Rejection};

    fn rejected(input: &[u8]) -> Rejection {
        Gate::default().feed(input, &mut vec![]).unwrap_err()
    }

    #[test]
    fn refusals_are_ironic_shaped() {
        let r = rejected(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n");
        let text = String::from_utf8(refusal(&r)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("x-openstack-ironic-api-maximum-version: 1."));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let inner: serde_json::Value =
            serde_json::from_str(v["error_message"].as_str().unwrap()).unwrap();
        assert_eq!(inner["faultcode"], "Client");
        assert_eq!(inner["faultstring"], r.message);
        assert!(r.message.starts_with("Invalid Content-Length \"x\""));
    }

    #[test]
    fn paths_must_percent_decode_to_utf8() {
        for ok in [
            "/v1/nodes",
            "/v1/nodes/bad%20ident",
            "/v1/nodes/%C3%A9",
            "/",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for (bad, text) in [
            ("/v1/%zz", "\"%zz\" is not % followed"),
            ("/v1/nodes/%4", "\"%4\""),
            ("/v1/nodes/%", "\"%\""),
            ("/v1/nodes/%ff%fe", "not valid UTF-8"),
            ("/v1/nodes/%C3", "not valid UTF-8"),
        ] {
            let e = check_path(bad).unwrap_err();
            assert_eq!(e.status.as_u16(), 400);
            assert!(e.message.contains(text), "{bad}: {}", e.message);
        }
    }
}
