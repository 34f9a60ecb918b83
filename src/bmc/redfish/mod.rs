//! Redfish over HTTP(S): reqwest with rustls, CA verification on unless told otherwise,
//! HTTP basic or session (X-Auth-Token) authentication, a per-request timeout and a bounded
//! number of attempts. Knows Redfish resources (service root, Systems, Reset, VirtualMedia,
//! Bios, UpdateService, tasks) but nothing about nodes: what to ask for is the driver's
//! business.
//!
//! Clients are cached per BMC and credentials (as Ironic caches sushy connections), so a
//! session is opened once and reused until the BMC forgets it.
//!
//! This file: errors, the endpoint description and the client cache; `transport` does
//! the HTTP (TLS, authentication, attempts), `resources` the Redfish resources,
//! `firmware` those of BIOS settings and firmware updates.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

mod firmware;
mod resources;
mod transport;

pub use firmware::TaskPoll;
pub use resources::{field, media_types, member_ids, member_links};
pub use transport::{error_message, Answer};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum RedfishError {
    #[error(
        "Redfish BMC {bmc} answered 401 Unauthorized: wrong redfish_username or redfish_password"
    )]
    Unauthorized { bmc: String },
    #[error("Redfish BMC {bmc} is not reachable: {reason}")]
    Unreachable { bmc: String, reason: String },
    #[error("Redfish BMC {bmc} did not answer within {secs} s (tried {attempts} times)")]
    Timeout {
        bmc: String,
        secs: u64,
        attempts: u32,
    },
    #[error("TLS with Redfish BMC {bmc} failed: {reason} (see redfish_verify_ca)")]
    Tls { bmc: String, reason: String },
    #[error("Redfish BMC {bmc}: {method} {path} failed with HTTP {status}: {message}")]
    Http {
        bmc: String,
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("Redfish BMC {bmc}: {reason}")]
    Protocol { bmc: String, reason: String },
    /// The endpoint description itself is unusable (e.g. an unreadable CA bundle).
    #[error("{0}")]
    Config(String),
}

impl RedfishError {
    /// Worth another attempt: the network or the BMC may recover.
    fn retryable(&self) -> bool {
        match self {
            RedfishError::Unreachable { .. } | RedfishError::Timeout { .. } => true,
            RedfishError::Http { status, .. } => *status == 503,
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            RedfishError::Http { status, .. } => Some(*status),
            RedfishError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }
}

/// How to check the BMC's certificate (Ironic's `redfish_verify_ca`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verify {
    /// The built-in (Mozilla) root store.
    System,
    /// No verification at all.
    Off,
    /// Only the CAs in this PEM file, or in the PEM files of this directory.
    Bundle(PathBuf),
}

/// Ironic's `redfish_auth_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    Basic,
    Session,
    /// A session when the BMC offers a SessionService, else basic.
    Auto,
}

/// Where and how to reach a Redfish service. The password never appears in Debug output.
#[derive(Clone)]
pub struct Endpoint {
    /// `scheme://authority`, no trailing slash.
    pub base: String,
    /// Service root path, with leading and trailing slash (`/redfish/v1/`).
    pub root: String,
    /// The ComputerSystem's path; None = the only member of `Systems`.
    pub system_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub verify: Verify,
    pub auth: Auth,
    /// One request's budget, connection included.
    pub timeout: Duration,
    /// Attempts per request when the BMC cannot be reached (at least 1), and the pause
    /// between them.
    pub attempts: u32,
    pub retry_interval: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Endpoint({}{} system={:?} user={:?} password=****** verify={:?} auth={:?})",
            self.base, self.root, self.system_id, self.username, self.verify, self.auth
        )
    }
}

impl Endpoint {
    /// The longest a request may take over all its attempts.
    pub fn bound(&self) -> Duration {
        let n = self.attempts.max(1);
        self.timeout * n + self.retry_interval * (n - 1)
    }

    fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.password.as_deref().unwrap_or("").as_bytes());
        format!(
            "{}|{}|{:?}|{:?}|{:?}|{:?}|{:x}",
            self.base,
            self.root,
            self.username,
            self.verify,
            self.auth,
            (self.timeout, self.attempts, self.retry_interval),
            h.finalize()
        )
    }
}

/// `redfish_address` → (`scheme://authority`, service root path). Ironic's rule: a
/// missing scheme means https; a path is the service root.
pub fn normalize_address(address: &str) -> Result<(String, String), String> {
    let address = address.trim();
    let full = if address.contains("://") {
        address.to_string()
    } else {
        format!("https://{address}")
    };
    let url = reqwest::Url::parse(&full).map_err(|e| format!("{e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {} is not http or https", url.scheme()));
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("no host")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials belong in redfish_username and redfish_password, not in the URL".into(),
        );
    }
    let base = match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let root = match url.path() {
        "" | "/" => "/redfish/v1/".to_string(),
        p if p.ends_with('/') => p.to_string(),
        p => format!("{p}/"),
    };
    Ok((base, root))
}

/// A Redfish client for one endpoint (see [`client`] for the cached one).
pub struct Client {
    http: reqwest::Client,
    ep: Endpoint,
    bmc: String,
    /// Session token, once logged in; `Some(None)` after `Auto` fell back to basic.
    session: tokio::sync::Mutex<Option<Option<String>>>,
}

/// The cached client for `ep` (built on first use).
pub fn client(ep: &Endpoint) -> Result<Arc<Client>, RedfishError> {
    static CLIENTS: OnceLock<Mutex<HashMap<String, Arc<Client>>>> = OnceLock::new();
    let map = CLIENTS.get_or_init(|| Mutex::new(HashMap::new()));
    let key = ep.cache_key();
    let mut m = match map.lock() {
        Ok(m) => m,
        Err(p) => p.into_inner(),
    };
    if let Some(c) = m.get(&key) {
        return Ok(c.clone());
    }
    // Bounded: a conductor with many BMCs rebuilds clients rather than growing forever.
    if m.len() >= 512 {
        m.clear();
    }
    let c = Arc::new(Client::new(ep.clone())?);
    m.insert(key, c.clone());
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn ep(base: &str) -> Endpoint {
        Endpoint {
            base: base.into(),
            root: "/redfish/v1/".into(),
            system_id: None,
            username: Some("u".into()),
            password: Some("hunter2".into()),
            verify: Verify::System,
            auth: Auth::Basic,
            timeout: Duration::from_millis(500),
            attempts: 2,
            retry_interval: Duration::from_millis(100),
        }
    }

    #[test]
    fn password_never_printed() {
        let e = ep("https://h");
        assert!(!format!("{e:?}").contains("hunter2"));
        assert!(!e.cache_key().contains("hunter2"));
    }

    #[test]
    fn addresses_are_normalised_as_ironic_does() {
        let ok = |a: &str| normalize_address(a).unwrap();
        assert_eq!(
            ok("bmc.example.com"),
            ("https://bmc.example.com".into(), "/redfish/v1/".into())
        );
        assert_eq!(
            ok("10.0.0.5:8000"),
            ("https://10.0.0.5:8000".into(), "/redfish/v1/".into())
        );
        assert_eq!(
            ok("http://127.0.0.1:8000/"),
            ("http://127.0.0.1:8000".into(), "/redfish/v1/".into())
        );
        assert_eq!(
            ok("https://[fd00::5]:8443/custom/root"),
            ("https://[fd00::5]:8443".into(), "/custom/root/".into())
        );
        for bad in [
            "http://",
            "ftp://bmc",
            "https://user:pw@bmc",
            "not a host",
            "https://bmc:99999",
        ] {
            assert!(normalize_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redfish_error_bodies_become_one_line() {
        let b = r#"{"error":{"code":"Base.1.0.GeneralError","message":"outer","@Message.ExtendedInfo":[{"Message":"inner one"},{"Message":"inner two"}]}}"#;
        assert_eq!(error_message(b), "inner one; inner two");
        assert_eq!(error_message(r#"{"error":{"message":"only"}}"#), "only");
        assert_eq!(error_message(""), "(no details)");
        assert_eq!(error_message("plain"), "plain");
    }

    #[test]
    fn the_bound_covers_every_attempt() {
        let e = ep("http://h");
        assert_eq!(e.bound(), Duration::from_millis(1100));
    }

    /// A minimal Redfish service with a SessionService on loopback: tokens are accepted
    /// once, then forgotten (as a BMC does when a session times out).
    fn session_bmc() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let log = seen.clone();
        std::thread::spawn(move || {
            let (mut logins, mut valid): (u32, Option<String>) = (0, None);
            for conn in l.incoming().flatten().take(50) {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let (mut len, mut token, mut basic) = (0usize, None, false);
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    let h = h.trim_end().to_string();
                    if h.is_empty() {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap();
                    match k.to_lowercase().as_str() {
                        "content-length" => len = v.trim().parse().unwrap(),
                        "x-auth-token" => token = Some(v.trim().to_string()),
                        "authorization" => basic = true,
                        _ => {}
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(format!(
                    "{} {path} token={token:?} basic={basic}",
                    line.split_whitespace().next().unwrap_or("")
                ));
                let (status, extra, reply) = match path.as_str() {
                    "/redfish/v1/" => (200, String::new(), r#"{"Links":{"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"}}}"#.to_string()),
                    "/redfish/v1/SessionService/Sessions" => {
                        let v: Value = serde_json::from_slice(&body).unwrap();
                        if v["Password"] == "pw" {
                            logins += 1;
                            let t = format!("tok-{logins}");
                            valid = Some(t.clone());
                            (201, format!("X-Auth-Token: {t}\r\n"), "{}".to_string())
                        } else {
                            (401, String::new(), r#"{"error":{"message":"bad login"}}"#.to_string())
                        }
                    }
                    _ if token.is_some() && token == valid => {
                        valid = None; // one use, then the BMC forgets the session
                        (200, String::new(), r#"{"Members":[{"@odata.id":"/redfish/v1/Systems/1"}]}"#.to_string())
                    }
                    _ => (401, String::new(), "{}".to_string()),
                };
                let mut c = conn;
                let _ = write!(c, "HTTP/1.1 {status} X\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len());
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn session_auth_logs_in_and_renews_a_forgotten_token() {
        let (port, seen) = session_bmc();
        let mut e = ep(&format!("http://127.0.0.1:{port}"));
        e.auth = Auth::Session;
        e.password = Some("pw".into());
        let c = Client::new(e.clone()).unwrap();
        assert_eq!(c.system_path().await.unwrap(), "/redfish/v1/Systems/1");
        // The token was forgotten: a 401, a new login, the request again.
        assert_eq!(c.system_path().await.unwrap(), "/redfish/v1/Systems/1");
        let seen = seen.lock().unwrap().clone();
        let logins = seen.iter().filter(|l| l.starts_with("POST")).count();
        assert_eq!(logins, 2, "{seen:?}");
        assert!(seen.iter().all(|l| l.ends_with("basic=false")), "{seen:?}");
        assert!(
            seen.iter().any(|l| l.contains("token=Some(\"tok-2\")")),
            "{seen:?}"
        );
        // Wrong password: the login's 401 is the answer.
        let (port, _) = session_bmc();
        let mut e = ep(&format!("http://127.0.0.1:{port}"));
        e.auth = Auth::Auto;
        e.password = Some("nope".into());
        let r = Client::new(e).unwrap().system_path().await;
        assert!(matches!(r, Err(RedfishError::Unauthorized { .. })), "{r:?}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_within_the_bound() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let c = Client::new(ep(&format!("http://127.0.0.1:{port}"))).unwrap();
        let start = std::time::Instant::now();
        let r = c.get("/redfish/v1/").await;
        assert!(matches!(r, Err(RedfishError::Unreachable { .. })), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_silent_bmc_times_out_within_the_bound() {
        // Accepts connections (the kernel's backlog) but never answers.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = Client::new(ep(&format!("http://127.0.0.1:{port}"))).unwrap();
        let start = std::time::Instant::now();
        let r = c.get("/redfish/v1/").await;
        assert!(
            matches!(r, Err(RedfishError::Timeout { attempts: 2, .. })),
            "{r:?}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        drop(l);
    }
}
