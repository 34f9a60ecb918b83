//! Validated configuration. `file.rs` mirrors the TOML; `Config::load` turns it into typed,
//! checked values, and every error names the file, the `[section] key` and the reason.
//! No other module reads the file or the environment.

pub mod file;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

pub use file::FileConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: [{section}] {key}: {reason}")]
    Invalid {
        path: String,
        section: &'static str,
        key: &'static str,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStrategy {
    Noauth,
    HttpBasic,
}

/// The configuration every layer receives (each reads only its own section).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from, for messages ("<defaults>" when no file was given).
    pub source: String,
    pub file: FileConfig,
    pub host: String,
    pub state_path: PathBuf,
    pub database_path: PathBuf,
    pub api_addr: SocketAddr,
    pub auth: AuthStrategy,
}

impl Config {
    /// Built-in defaults: API on 127.0.0.1:6385, noauth, data in `./ironbox-data`.
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::from_file(FileConfig::default(), "<defaults>")
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    pub fn parse(text: &str, shown: &str) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: shown.to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        Self::from_file(file, shown)
    }

    pub fn from_file(file: FileConfig, shown: &str) -> Result<Self, ConfigError> {
        let bad = |section, key, reason: String| ConfigError::Invalid {
            path: shown.to_string(),
            section,
            key,
            reason,
        };
        let d = &file.default;
        let host = if d.host.is_empty() {
            hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into())
        } else {
            d.host.clone()
        };
        if host.len() > 255 || host.contains(char::is_whitespace) {
            return Err(bad(
                "DEFAULT",
                "host",
                "must be a host name without spaces".into(),
            ));
        }
        if d.state_path.is_empty() {
            return Err(bad("DEFAULT", "state_path", "must not be empty".into()));
        }
        let auth = match d.auth_strategy.as_str() {
            "noauth" => AuthStrategy::Noauth,
            "http_basic" => AuthStrategy::HttpBasic,
            "keystone" => {
                return Err(bad(
                    "DEFAULT",
                    "auth_strategy",
                    "keystone is not supported by ironbox; use noauth or http_basic".into(),
                ))
            }
            other => {
                return Err(bad(
                    "DEFAULT",
                    "auth_strategy",
                    format!("unknown strategy {other:?}; expected noauth or http_basic"),
                ))
            }
        };
        if auth == AuthStrategy::HttpBasic && d.http_basic_auth_user_file.is_empty() {
            return Err(bad(
                "DEFAULT",
                "http_basic_auth_user_file",
                "required with auth_strategy = http_basic".into(),
            ));
        }
        if !matches!(file.agent.image_download_source.as_str(), "http" | "local") {
            return Err(bad(
                "agent",
                "image_download_source",
                "must be \"http\" or \"local\"".into(),
            ));
        }
        if file.agent.command_timeout == 0 {
            return Err(bad("agent", "command_timeout", "must be at least 1".into()));
        }
        if d.enabled_hardware_types.is_empty() {
            return Err(bad(
                "DEFAULT",
                "enabled_hardware_types",
                "at least one hardware type must be enabled".into(),
            ));
        }
        if d.default_portgroup_mode.is_empty() {
            return Err(bad(
                "DEFAULT",
                "default_portgroup_mode",
                "must not be empty".into(),
            ));
        }
        let a = &file.api;
        let ip: IpAddr = a.host_ip.parse().map_err(|_| {
            bad(
                "api",
                "host_ip",
                format!("{:?} is not an IP address", a.host_ip),
            )
        })?;
        if auth == AuthStrategy::Noauth && !ip.is_loopback() && !a.allow_noauth_on_public {
            return Err(bad("api", "host_ip", format!(
                "refusing to serve the API without authentication on non-loopback address {ip}; \
                 set [DEFAULT] auth_strategy = \"http_basic\", or [api] allow_noauth_on_public = true"
            )));
        }
        if let Some(ep) = &a.public_endpoint {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                return Err(bad(
                    "api",
                    "public_endpoint",
                    format!("{ep:?} must be an http:// or https:// URL"),
                ));
            }
        }
        if a.max_limit == 0 {
            return Err(bad("api", "max_limit", "must be at least 1".into()));
        }
        if a.max_json_body_size == 0 || a.max_json_body_size_provision == 0 {
            return Err(bad(
                "api",
                "max_json_body_size",
                "body size limits must be at least 1 KiB".into(),
            ));
        }
        if a.max_json_body_depth == 0 {
            return Err(bad(
                "api",
                "max_json_body_depth",
                "must be at least 1".into(),
            ));
        }
        if a.enable_ssl_api {
            if file.ssl.cert_file.is_empty() {
                return Err(bad(
                    "ssl",
                    "cert_file",
                    "required with [api] enable_ssl_api = true".into(),
                ));
            }
            if file.ssl.key_file.is_empty() {
                return Err(bad(
                    "ssl",
                    "key_file",
                    "required with [api] enable_ssl_api = true".into(),
                ));
            }
        }
        let r = &file.redfish;
        if !matches!(r.auth_type.as_str(), "basic" | "session" | "auto") {
            return Err(bad(
                "redfish",
                "auth_type",
                format!("{:?} is not one of basic, session, auto", r.auth_type),
            ));
        }
        if r.connection_attempts == 0 || r.request_timeout == 0 {
            return Err(bad(
                "redfish",
                "connection_attempts",
                "connection_attempts and request_timeout must be at least 1".into(),
            ));
        }
        let c = &file.conductor;
        if c.heartbeat_interval == 0 {
            return Err(bad(
                "conductor",
                "heartbeat_interval",
                "must be at least 1 second".into(),
            ));
        }
        if c.heartbeat_timeout <= c.heartbeat_interval {
            return Err(bad(
                "conductor",
                "heartbeat_timeout",
                "must be longer than heartbeat_interval".into(),
            ));
        }
        if c.workers_pool_size == 0 {
            return Err(bad(
                "conductor",
                "workers_pool_size",
                "must be at least 1".into(),
            ));
        }
        if c.sync_power_state_workers == 0 {
            return Err(bad(
                "conductor",
                "sync_power_state_workers",
                "must be at least 1".into(),
            ));
        }
        if c.check_provision_state_interval == 0 {
            return Err(bad(
                "conductor",
                "check_provision_state_interval",
                "must be at least 1 second".into(),
            ));
        }
        if !crate::model::validate::is_valid_conductor_group(&c.conductor_group) {
            return Err(bad(
                "conductor",
                "conductor_group",
                "only letters, digits, '_', '.' and '-' are allowed".into(),
            ));
        }
        let f = &file.fake;
        for (key, delay) in [
            ("power_delay", &f.power_delay),
            ("boot_delay", &f.boot_delay),
            ("deploy_delay", &f.deploy_delay),
            ("vendor_delay", &f.vendor_delay),
            ("management_delay", &f.management_delay),
            ("inspect_delay", &f.inspect_delay),
            ("raid_delay", &f.raid_delay),
            ("bios_delay", &f.bios_delay),
            ("storage_delay", &f.storage_delay),
            ("rescue_delay", &f.rescue_delay),
        ] {
            parse_delay(delay).map_err(|reason| bad("fake", key, reason))?;
        }
        let state_path = PathBuf::from(&d.state_path);
        let db = &file.database;
        let database_path = if db.connection.is_empty() {
            state_path.join("ironbox.sqlite")
        } else if let Some(rest) = db.connection.strip_prefix("sqlite://") {
            // SQLAlchemy's form: sqlite:///abs/path (three slashes) or sqlite://rel/path.
            if rest.is_empty() || rest == "/" {
                return Err(bad(
                    "database",
                    "connection",
                    "sqlite URL names no file".into(),
                ));
            }
            PathBuf::from(rest)
        } else {
            return Err(bad(
                "database",
                "connection",
                format!("{:?}: only sqlite:// URLs are supported", db.connection),
            ));
        };
        if db.max_pool_size == 0 {
            return Err(bad(
                "database",
                "max_pool_size",
                "must be at least 1".into(),
            ));
        }
        Ok(Config {
            source: shown.to_string(),
            host,
            state_path,
            database_path,
            api_addr: SocketAddr::new(ip, a.port),
            auth,
            file,
        })
    }
}

/// A `[fake]` delay as (min, max) seconds.
pub fn parse_delay(d: &file::Delay) -> Result<(f64, f64), String> {
    let ok = |x: f64| x.is_finite() && (0.0..=3600.0).contains(&x);
    let (lo, hi) = match d {
        file::Delay::Seconds(s) => (*s, *s),
        file::Delay::Text(t) => {
            let parts: Vec<&str> = t.split(',').map(str::trim).collect();
            let num = |s: &str| {
                s.parse::<f64>()
                    .map_err(|_| format!("{t:?} is not seconds or \"min,max\""))
            };
            match parts.as_slice() {
                [a] => (num(a)?, num(a)?),
                [a, b] => (num(a)?, num(b)?),
                _ => return Err(format!("{t:?} is not seconds or \"min,max\"")),
            }
        }
    };
    if !ok(lo) || !ok(hi) || lo > hi {
        return Err("delays must be between 0 and 3600 seconds, min <= max".into());
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_noauth() {
        let c = Config::defaults().unwrap();
        assert_eq!(c.api_addr.to_string(), "127.0.0.1:6385");
        assert_eq!(c.auth, AuthStrategy::Noauth);
        assert_eq!(
            c.database_path,
            PathBuf::from("./ironbox-data/ironbox.sqlite")
        );
    }

    #[test]
    fn example_file_parses_and_documents_every_option() {
        let text = include_str!("../../ironic.toml.example");
        Config::parse(text, "ironic.toml.example").unwrap();
        // Every option the code knows must appear in the example, commented or not.
        let defaults = toml::Value::try_from(FileConfig::default()).unwrap();
        let mut missing = vec![];
        for (section, table) in defaults.as_table().unwrap() {
            assert!(
                text.contains(&format!("[{section}]")),
                "section [{section}] missing"
            );
            for key in table.as_table().unwrap().keys() {
                if !text.contains(&format!("{key} =")) {
                    missing.push(format!("[{section}] {key}"));
                }
            }
        }
        // Options whose default is "unset" don't serialize; check those by name.
        for key in [
            "public_endpoint",
            "default_resource_class",
            "default_boot_interface",
        ] {
            if !text.contains(&format!("{key} =")) {
                missing.push(key.to_string());
            }
        }
        assert!(missing.is_empty(), "undocumented options: {missing:?}");
    }

    #[test]
    fn bad_files_name_the_key() {
        let cases = [
            ("[api]\nport = \"x\"", "port"),
            ("[api]\nbogus = 1", "bogus"),
            ("[nosuchsection]\na = 1", "nosuchsection"),
            ("[api]\nhost_ip = \"0.0.0.0\"", "refusing"),
            ("[api]\nhost_ip = \"not-an-ip\"", "host_ip"),
            ("[DEFAULT]\nauth_strategy = \"keystone\"", "auth_strategy"),
            ("[database]\nconnection = \"mysql://x\"", "connection"),
            ("[conductor]\nheartbeat_timeout = 5", "heartbeat_timeout"),
            ("[api]\nenable_ssl_api = true", "cert_file"),
            ("[redfish]\nauth_type = \"digest\"", "auth_type"),
            ("[api\nport = 1", "TOML"),
        ];
        for (text, needle) in cases {
            let err = Config::parse(text, "t.toml").unwrap_err().to_string();
            assert!(err.starts_with("t.toml"), "{err}");
            assert!(
                err.to_lowercase().contains(&needle.to_lowercase()) || needle == "TOML",
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn public_noauth_needs_explicit_opt_in() {
        let c = Config::parse(
            "[api]\nhost_ip = \"0.0.0.0\"\nallow_noauth_on_public = true",
            "t",
        )
        .unwrap();
        assert_eq!(c.api_addr.port(), 6385);
        Config::parse(
            "[DEFAULT]\nauth_strategy = \"http_basic\"\n[api]\nhost_ip = \"0.0.0.0\"",
            "t",
        )
        .unwrap();
    }
}
