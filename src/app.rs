//! Composition root: config → store → drivers → conductor → API; one cancellation token;
//! the bound addresses announced in the log and in `<state_path>/endpoints.json`; graceful
//! stop on SIGTERM/SIGINT.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::api;
use crate::conductor::{Conductor, Heartbeat};
use crate::config::Config;
use crate::db::Store;
use crate::drivers::Registry;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] crate::db::StoreError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Conductor(#[from] crate::conductor::ConductorError),
    #[error(transparent)]
    Boot(#[from] crate::boot::BootError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
    let context = context.into();
    move |source| AppError::Io { context, source }
}

/// Everything a running appliance needs, checked before anything is started.
pub fn prepare(config: &Config) -> Result<Registry, AppError> {
    Ok(Registry::from_config(config)?)
}

fn load_tls(config: &Config) -> Result<Option<rustls::ServerConfig>, AppError> {
    if !config.api.enable_ssl_api {
        return Ok(None);
    }
    let ssl = &config.ssl;
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(&ssl.cert_file)
            .map_err(io(format!("[ssl] cert_file {}", ssl.cert_file.display())))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .map_err(io(format!("[ssl] cert_file {}", ssl.cert_file.display())))?;
    if certs.is_empty() {
        return Err(AppError::Tls(format!(
            "[ssl] cert_file {}: no certificate found",
            ssl.cert_file.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(&ssl.key_file)
            .map_err(io(format!("[ssl] key_file {}", ssl.key_file.display())))?,
    ))
    .map_err(io(format!("[ssl] key_file {}", ssl.key_file.display())))?
    .ok_or_else(|| {
        AppError::Tls(format!(
            "[ssl] key_file {}: no private key found",
            ssl.key_file.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AppError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map(Some)
        .map_err(|e| AppError::Tls(e.to_string()))
}

/// Run the appliance until SIGTERM/SIGINT (or `cancel`).
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), AppError> {
    let registry = Arc::new(prepare(&config)?);
    crate::metrics::init();
    std::fs::create_dir_all(&config.default.state_path).map_err(io(format!(
        "creating state_path {}",
        config.default.state_path.display()
    )))?;
    let db = config.database.clone();
    let store = tokio::task::spawn_blocking(move || {
        Store::open_at(
            &store_location(&db),
            db.busy_timeout_millis(),
            db.max_pool_size,
        )
    })
    .await
    .map_err(|e| AppError::Io {
        context: "opening database".into(),
        source: std::io::Error::other(e.to_string()),
    })??;
    let config = Arc::new(config);
    let conductor = Conductor::new(store.clone(), registry.clone(), config.clone());
    let images = crate::image::cache::ImageCache::new(
        config.default.state_path.join("images"),
        config.pxe.image_cache_size.saturating_mul(1024 * 1024),
        config.pxe.image_cache_ttl,
    )
    .map_err(|e| AppError::Io {
        context: "opening the image cache".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    conductor.set_image_cache(Arc::new(images));

    let listener = TcpListener::bind(config.api.addr())
        .map_err(io(format!("binding the API to {}", config.api.addr())))?;
    let api_addr = listener
        .local_addr()
        .map_err(io("reading the API address"))?;
    // Members forward work on nodes they do not own to the owner's RPC listener, whose
    // address goes into the conductors table with the registration.
    let rpc = match config.json_rpc.enabled {
        true => {
            let l = TcpListener::bind(config.json_rpc.addr()).map_err(io(format!(
                "binding [json_rpc] to {}",
                config.json_rpc.addr()
            )))?;
            let addr = l.local_addr().map_err(io("reading the RPC address"))?;
            let server = api::rpc::server(&config, l, api_addr).map_err(io("starting JSON-RPC"))?;
            Some((addr, server))
        }
        false => None,
    };
    Heartbeat::register(&conductor, rpc.as_ref().map(|(a, _)| a.to_string())).await?;
    crate::conductor::periodic::recover_on_start(&conductor).await?;
    let tls = load_tls(&config)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let state = api::State {
        conductor: conductor.clone(),
        store: store.clone(),
        config: config.clone(),
    };
    let server = api::server(state, listener, tls).map_err(io("starting the API"))?;
    let handle = server.handle();

    let ramdisk = api::ramdisk_service(api::State {
        conductor: conductor.clone(),
        store: store.clone(),
        config: config.clone(),
    });
    let boot = crate::boot::serve(
        &config,
        store.clone(),
        Some(Arc::new(ramdisk)),
        // The agents' routes there are Ironic API routes: refusals in Ironic's shape.
        api::refusal,
        // Members on one segment: each answers DHCP only for its own (and unknown) machines.
        config.json_rpc.enabled.then(|| {
            let c = conductor.clone();
            let owns: crate::model::conductor::OwnsNode =
                Arc::new(move |group: &str, uuid: &str| c.owns(group, uuid));
            owns
        }),
        cancel.clone(),
    )
    .await?;
    let mut endpoints =
        serde_json::json!({ "api": format!("{scheme}://{api_addr}"), "pid": std::process::id() });
    let rpc_task = rpc.map(|(addr, server)| {
        if let Some(e) = endpoints.as_object_mut() {
            e.insert(
                "json_rpc".into(),
                serde_json::json!(format!("http://{addr}")),
            );
        }
        tracing::info!(json_rpc = %addr, "JSON-RPC listener serving the other conductors");
        let handle = server.handle();
        (handle, tokio::spawn(server))
    });
    match &boot {
        Some(b) => {
            let mode = &config.dhcp.mode;
            tracing::info!(interface = %config.dhcp.interface.as_deref().unwrap_or_default(), dhcp = ?b.dhcp, dhcp_mode = %mode, tftp = ?b.tftp, http = ?b.http, "boot servers serving");
            if let Some(e) = endpoints.as_object_mut() {
                let dhcp: Vec<String> = b.dhcp.iter().map(|a| a.to_string()).collect();
                e.insert("dhcp".into(), serde_json::json!(dhcp));
                e.insert(
                    "tftp".into(),
                    serde_json::json!(b.tftp.map(|a| a.to_string())),
                );
                e.insert(
                    "http_boot".into(),
                    serde_json::json!(b.http.map(|a| format!("http://{a}"))),
                );
            }
        }
        None => tracing::info!(
            "boot servers off (set [dhcp] interface to serve DHCP, TFTP and HTTP boot)"
        ),
    }
    let boot_http = boot
        .as_ref()
        .and_then(|b| b.http)
        .map(|a| format!("http://{a}"));
    conductor.set_urls(crate::drivers::Urls {
        agent_api: boot_http
            .clone()
            .or_else(|| config.api.public_endpoint.clone())
            .or_else(|| Some(format!("{scheme}://{api_addr}"))),
        boot_http,
        api: config
            .api
            .public_endpoint
            .clone()
            .or_else(|| Some(format!("{scheme}://{api_addr}"))),
    });
    // Consoles left enabled come back now that their URLs are known; in the background, so
    // many consoles (or slow BMCs) never hold up the API's start.
    tokio::spawn({
        let c = conductor.clone();
        async move { c.console_restore().await }
    });
    write_endpoints(&config.default.state_path, &endpoints)
        .map_err(io("writing endpoints.json"))?;
    tracing::info!(api = %format!("{scheme}://{api_addr}"), auth_strategy = ?config.default.auth_strategy, database = %config.database.connection.display(),
        conductor = %config.default.host, hardware_types = ?registry.hardware_types, "ironbox serving");

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(Heartbeat::run(conductor.clone(), cancel.clone()));
    tasks.spawn(crate::conductor::periodic::run(
        conductor.clone(),
        cancel.clone(),
    ));
    let server_task = tokio::spawn(server);
    let stop = cancel.clone();
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("shutdown requested"),
        _ = stop.cancelled() => {},
    }
    cancel.cancel();
    handle.stop(true).await;
    let _ = server_task.await;
    if let Some((h, task)) = rpc_task {
        h.stop(true).await;
        let _ = task.await;
    }
    // Let running jobs finish their step; anything cut short is failed on the next start.
    conductor.shutdown(std::time::Duration::from_secs(10)).await;
    while tasks.join_next().await.is_some() {}
    if let Some(b) = boot {
        b.join().await;
    }
    let _ = std::fs::remove_file(config.default.state_path.join("endpoints.json"));
    tracing::info!("ironbox stopped");
    Ok(())
}

fn write_endpoints(dir: &Path, v: &serde_json::Value) -> std::io::Result<()> {
    // Write then rename, so a reader never sees half a file.
    let tmp = dir.join("endpoints.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(v).unwrap_or_default())?;
    std::fs::rename(tmp, dir.join("endpoints.json"))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `ironbox db backup PATH`: a consistent copy of the live database.
pub async fn backup(config: &Config, dest: &Path) -> Result<(), AppError> {
    if dest.exists() {
        return Err(AppError::Io {
            context: format!("backup target {}", dest.display()),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file exists"),
        });
    }
    let db = config.database.clone();
    let path = config.database.connection.clone();
    if !path.exists() {
        return Err(AppError::Io {
            context: format!("database {}", path.display()),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no database here; is state_path right?",
            ),
        });
    }
    let store =
        tokio::task::spawn_blocking(move || Store::open(&path, db.busy_timeout_millis(), 1))
            .await
            .map_err(|e| AppError::Io {
                context: "opening database".into(),
                source: std::io::Error::other(e.to_string()),
            })??;
    let abs = std::path::absolute(dest).map_err(io("backup path"))?;
    store.backup(abs).await?;
    Ok(())
}

/// Where `[database] connection` puts the store.
pub fn store_location(db: &crate::config::DatabaseSection) -> crate::db::Location {
    match &db.postgres {
        Some(url) => crate::db::Location::Postgres(url.clone()),
        None => crate::db::Location::Sqlite(db.connection.clone()),
    }
}

/// `ironbox db migrate-to URL`: the configured SQLite store copied into an empty PostgreSQL
/// database (`db::copy`). Blocking: the PostgreSQL client runs its own runtime.
pub fn migrate_to(config: &Config, url: &str) -> Result<crate::db::Copied, AppError> {
    if config.database.postgres.is_some() {
        return Err(crate::db::StoreError::Location(
            "[database] connection is already PostgreSQL: migrate-to copies a SQLite store".into(),
        )
        .into());
    }
    let db = &config.database;
    if !db.connection.exists() {
        return Err(AppError::Io {
            context: format!("database {}", db.connection.display()),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no database here; is state_path right?",
            ),
        });
    }
    crate::db::Location::pg_config(url)?;
    let store = Store::open(&db.connection, db.busy_timeout_millis(), 1)?;
    Ok(store.copy_to_postgres(url)?)
}
