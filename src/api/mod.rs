//! The Bare Metal API over HTTP (actix-web): Ironic's paths, fields, microversions, status
//! codes and error bodies. Knows HTTP and Ironic's wire format; reads through `db`, writes
//! through `conductor`, and knows no driver or SQL.
//!
//! Every endpoint is in `routes()` below; the handler lives in the file named after the
//! URL's collection.

mod allocations;
mod auth;
mod chassis;
mod conductors;
mod deploy_templates;
mod drivers;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod microversion;
mod node_resources;
mod node_states;
mod node_view;
mod nodes;
mod params;
mod patch;
mod portgroups;
mod ports;
mod ramdisk;
mod resource;
mod root;
mod views;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, Service};
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::web::{self, delete, get, patch as patch_, post, put};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use futures_util::future::Either;

use crate::conductor::Conductor;
use crate::config::{AuthStrategy, Config};
use crate::db::Store;
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
        web::resource("/nodes")
            .route(get().to(resource::list::<Node>))
            .route(post().to(resource::create::<Node>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/detail")
            .route(get().to(resource::list_detail::<Node>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/validate")
            .route(get().to(nodes::validate_query))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}")
            .route(get().to(resource::show::<Node>))
            .route(patch_().to(resource::update::<Node>))
            .route(delete().to(resource::delete::<Node>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/maintenance")
            .route(put().to(nodes::maintenance_set))
            .route(delete().to(nodes::maintenance_unset))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/states")
            .route(get().to(nodes::states))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/validate")
            .route(get().to(nodes::validate))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/traits")
            .route(get().to(node_resources::traits_get))
            .route(put().to(node_resources::traits_set))
            .route(delete().to(node_resources::traits_delete))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/traits/{trait}")
            .route(put().to(node_resources::trait_add))
            .route(delete().to(node_resources::trait_delete))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/history")
            .route(get().to(node_resources::history))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/history/{event}")
            .route(get().to(node_resources::history_get))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource(["/nodes/{node}/ports", "/nodes/{node}/ports/detail"])
            .route(get().to(ports::list_for_node))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource([
            "/nodes/{node}/portgroups",
            "/nodes/{node}/portgroups/detail",
        ])
        .route(get().to(portgroups::list_for_node))
        .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/bios")
            .route(get().to(node_resources::bios))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/bios/{name}")
            .route(get().to(node_resources::bios_one))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/firmware")
            .route(get().to(node_resources::firmware))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/inventory")
            .route(get().to(node_resources::inventory))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/children")
            .route(get().to(node_resources::children))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/states/provision")
            .route(put().to(node_states::provision))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/states/power")
            .route(put().to(node_states::power))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/states/console")
            .route(get().to(node_states::console_get))
            .route(put().to(node_states::console_set))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/states/raid")
            .route(put().to(node_states::raid))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/states/boot_mode")
            .route(put().to(node_states::boot_mode))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/states/secure_boot")
            .route(put().to(node_states::secure_boot))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/management/boot_device")
            .route(get().to(node_states::boot_device_get))
            .route(put().to(node_states::boot_device_set))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/management/boot_device/supported")
            .route(get().to(node_states::boot_device_supported))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/management/inject_nmi")
            .route(put().to(node_states::inject_nmi))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/nodes/{node}/vendor_passthru/methods")
            .route(get().to(node_states::vendor_methods))
            .default_service(web::to(not_allowed)),
    )
    .service(web::resource("/nodes/{node}/vendor_passthru").to(node_states::vendor_passthru))
    .service(
        web::resource("/nodes/{node}/allocation")
            .route(get().to(allocations::node_get))
            .route(delete().to(allocations::node_delete))
            .default_service(web::to(not_allowed)),
    )
    .service(web::resource("/nodes/{node}/{field}").route(get().to(nodes::unknown_subpath)))
    .service(
        web::resource("/ports")
            .route(get().to(resource::list::<Port>))
            .route(post().to(resource::create::<Port>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/ports/detail")
            .route(get().to(resource::list_detail::<Port>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/ports/{port}")
            .route(get().to(resource::show::<Port>))
            .route(patch_().to(resource::update::<Port>))
            .route(delete().to(resource::delete::<Port>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/portgroups")
            .route(get().to(resource::list::<Portgroup>))
            .route(post().to(resource::create::<Portgroup>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/portgroups/detail")
            .route(get().to(resource::list_detail::<Portgroup>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/portgroups/{pg}")
            .route(get().to(resource::show::<Portgroup>))
            .route(patch_().to(resource::update::<Portgroup>))
            .route(delete().to(resource::delete::<Portgroup>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource(["/portgroups/{pg}/ports", "/portgroups/{pg}/ports/detail"])
            .route(get().to(ports::list_for_portgroup))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/chassis")
            .route(get().to(resource::list::<Chassis>))
            .route(post().to(resource::create::<Chassis>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/chassis/detail")
            .route(get().to(resource::list_detail::<Chassis>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/chassis/{chassis}")
            .route(get().to(resource::show::<Chassis>))
            .route(patch_().to(resource::update::<Chassis>))
            .route(delete().to(resource::delete::<Chassis>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource([
            "/chassis/{chassis}/nodes",
            "/chassis/{chassis}/nodes/detail",
        ])
        .route(get().to(chassis::nodes))
        .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/drivers")
            .route(get().to(drivers::list))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/drivers/{driver}")
            .route(get().to(drivers::get))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/drivers/{driver}/properties")
            .route(get().to(drivers::properties))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/conductors")
            .route(get().to(resource::list::<ConductorRecord>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/conductors/{hostname}")
            .route(get().to(resource::show::<ConductorRecord>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/allocations")
            .route(get().to(resource::list::<Allocation>))
            .route(post().to(allocations::create))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/allocations/{allocation}")
            .route(get().to(resource::show::<Allocation>))
            .route(patch_().to(resource::update::<Allocation>))
            .route(delete().to(resource::delete::<Allocation>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/deploy_templates")
            .route(get().to(resource::list::<DeployTemplate>))
            .route(post().to(deploy_templates::create))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/deploy_templates/{template}")
            .route(get().to(resource::show::<DeployTemplate>))
            .route(patch_().to(resource::update::<DeployTemplate>))
            .route(delete().to(resource::delete::<DeployTemplate>))
            .default_service(web::to(not_allowed)),
    )
    .service(
        web::resource("/shards")
            .route(get().to(root::shards))
            .default_service(web::to(not_allowed)),
    )
    .configure(ramdisk::routes);
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
                .service(web::scope("/v1").configure(ramdisk::routes)),
        );
    }
}

async fn not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed())
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
    let state = web::Data::new(state);
    let make = move || {
        let basic = basic.clone();
        App::new()
            .app_data(state.clone())
            .default_service(web::to(not_found))
            .service(
                web::resource("/")
                    .route(get().to(root::root))
                    .default_service(web::to(not_allowed)),
            )
            .service(
                web::resource("/v1")
                    .route(get().to(root::v1))
                    .default_service(web::to(not_allowed)),
            )
            .service(web::scope("/v1").configure(routes))
            .configure(routes)
            .wrap_fn(move |req, srv| {
                // Authentication runs inside version negotiation so 401s carry version headers.
                let denied = match &basic {
                    Some(b) if !auth::is_public(req.path()) => b
                        .check(
                            req.headers()
                                .get("authorization")
                                .and_then(|h| h.to_str().ok()),
                        )
                        .err(),
                    _ => None,
                };
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
            .wrap(NormalizePath::new(TrailingSlash::Trim))
    };
    let builder = HttpServer::new(make)
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(10);
    let builder = match tls {
        Some(cfg) => builder.listen_rustls_0_23(listener, cfg)?,
        None => builder.listen(listener)?,
    };
    Ok(builder.run())
}
