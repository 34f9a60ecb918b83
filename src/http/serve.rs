//! The HTTP/1.1 server builder that puts every connection behind the framing gate: what
//! `actix_web::HttpServer::listen` builds (actix-server workers, actix-http's `HttpService`
//! over an actix-web `App`), with each plain-TCP or rustls connection wrapped in
//! [`Gated`] before actix-http reads it. Used by the API and the boot network's HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_service::{fn_service, IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, Service};
use actix_web::Error;

use super::framing::io::Gated;
use super::framing::{Gate, Render};

/// How a gated server runs.
pub struct Options {
    /// The actix-server service name (in its logs).
    pub name: &'static str,
    pub workers: usize,
    /// Seconds running requests get after a graceful stop.
    pub shutdown_timeout: u64,
    /// Serve HTTPS with this configuration (HTTP/1.1 only) instead of plain HTTP.
    pub tls: Option<rustls::ServerConfig>,
    /// How the gate's refusals read.
    pub render: Render,
    /// Answers what it can of each plain-TCP connection before actix reads it.
    pub front: Option<Front>,
}

/// Serves a new plain-TCP connection's requests while it can, then gives the stream back at
/// a request boundary for actix to serve the rest, or `None` when it finished the connection.
pub type Front = std::sync::Arc<
    dyn Fn(
            tokio::net::TcpStream,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<tokio::net::TcpStream>>>>
        + Send
        + Sync,
>;

/// Build the server on an already-bound listener; `app` makes each worker's actix-web `App`
/// (as `HttpServer::new` takes it). Signals are the caller's: the server ignores them.
pub fn server<F, I, S, B>(
    listener: TcpListener,
    opts: Options,
    app: F,
) -> Result<Server, std::io::Error>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, actix_http::Request>,
    S: ServiceFactory<actix_http::Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let builder = actix_server::Server::build();
    let stopping = builder.graceful_shutdown_signal();
    let builder = builder
        .workers(opts.workers)
        .disable_signals()
        .shutdown_timeout(opts.shutdown_timeout);
    let render = opts.render;
    let front = opts.front;
    // What HttpServer::listen builds, over a gated connection: its default keep-alive and
    // disconnect timeout, half-closed reads allowed (a client may shut its write side and
    // wait for the answer); the head timeout is the gate's, whose 408 has the owner's body.
    macro_rules! http_service {
        ($secure:expr) => {{
            let stopping = stopping.clone();
            // AppConfig's only public constructor (HttpServer uses a crate-private one; the
            // version is pinned in Cargo.lock). `secure` makes links https under TLS.
            let config = AppConfig::__priv_test_new($secure, addr.to_string(), addr);
            actix_http::HttpService::build()
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .keep_alive(actix_http::KeepAlive::default())
                .client_request_timeout(Duration::ZERO)
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(addr)
                .finish(actix_service::map_config(
                    app().into_factory().map_err(|e| e.into().error_response()),
                    move |_| config.clone(),
                ))
        }};
    }
    let builder = match opts.tls {
        None => builder.listen(opts.name, listener, move || {
            let front = front.clone();
            fn_service(move |io: tokio::net::TcpStream| {
                let front = front.clone();
                async move {
                    let io = match front {
                        // A finished connection ends here (actix-server ignores the error).
                        Some(f) => f(io).await.ok_or(actix_http::error::DispatchError::Io(
                            std::io::Error::other("served by the fast path"),
                        ))?,
                        None => io,
                    };
                    let peer = io.peer_addr().ok();
                    Ok::<_, actix_http::error::DispatchError>(gated(io, peer, render))
                }
            })
            .and_then(http_service!(false))
        })?,
        Some(mut cfg) => {
            // HTTP/1.1 only, as the server is built without HTTP/2.
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            let acceptor = actix_tls::accept::rustls_0_23::Acceptor::new(cfg);
            builder.listen(opts.name, listener, move || {
                acceptor
                    .clone()
                    .map_err(|e| match e {
                        actix_tls::accept::TlsError::Tls(e) => {
                            actix_http::error::DispatchError::Io(e)
                        }
                        actix_tls::accept::TlsError::Timeout
                        | actix_tls::accept::TlsError::Service(_) => {
                            actix_http::error::DispatchError::SlowRequestTimeout
                        }
                    })
                    .and_then(fn_service(move |io: TlsStream| {
                        let peer = io.get_ref().0.peer_addr().ok();
                        std::future::ready(Ok(gated(io, peer, render)))
                    }))
                    .and_then(http_service!(true))
            })?
        }
    };
    Ok(builder.run())
}

type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<tokio::net::TcpStream>;

/// A new connection behind its own gate, as the HTTP service takes it.
fn gated<T>(
    io: T,
    peer: Option<SocketAddr>,
    render: Render,
) -> (Gated<T>, actix_http::Protocol, Option<SocketAddr>) {
    (
        Gated::new(io, Gate::default(), HEAD_TIMEOUT, render),
        actix_http::Protocol::Http1,
        peer,
    )
}

/// How long a client may take to send a request head (actix-web's default).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
