//! Redfish over HTTP(S): reqwest with rustls, CA verification on unless told otherwise,
//! HTTP basic or session (X-Auth-Token) authentication, a per-request timeout and a bounded
//! number of attempts. Knows Redfish resources (service root, Systems, Reset, VirtualMedia)
//! but nothing about nodes: what to ask for is the driver's business.
//!
//! Clients are cached per BMC and credentials (as Ironic caches sushy connections), so a
//! session is opened once and reused until the BMC forgets it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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

/// A parsed reply.
struct Reply {
    status: u16,
    token: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// What goes into the Authorization side of a request.
#[derive(Clone)]
enum Credentials {
    None,
    Basic,
    Token(String),
}

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

fn read_bundle(path: &PathBuf) -> Result<Vec<reqwest::Certificate>, RedfishError> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| {
                RedfishError::Config(format!("cannot read CA directory {}: {e}", path.display()))
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    } else {
        vec![path.clone()]
    };
    let mut certs = vec![];
    for f in files {
        let pem = std::fs::read(&f).map_err(|e| {
            RedfishError::Config(format!("cannot read CA bundle {}: {e}", f.display()))
        })?;
        match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(c) => certs.extend(c),
            // In a directory, skip files that are not PEM; a named file must be one.
            Err(e) if !path.is_dir() => {
                return Err(RedfishError::Config(format!(
                    "CA bundle {} is not PEM: {e}",
                    f.display()
                )))
            }
            Err(_) => {}
        }
    }
    if certs.is_empty() {
        return Err(RedfishError::Config(format!(
            "no certificate found in CA bundle {}",
            path.display()
        )));
    }
    Ok(certs)
}

/// The error chain of a transport failure, as one line.
fn chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// The human part of a Redfish error body (`error.@Message.ExtendedInfo[].Message`, or
/// `error.message`), else the start of the body.
pub fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let e = &v["error"];
        let extended: Vec<&str> = e["@Message.ExtendedInfo"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["Message"].as_str()).collect())
            .unwrap_or_default();
        if !extended.is_empty() {
            return extended.join("; ");
        }
        if let Some(m) = e["message"].as_str() {
            return m.to_string();
        }
    }
    let t = body.trim();
    if t.is_empty() {
        "(no details)".into()
    } else {
        t.chars().take(200).collect()
    }
}

impl Client {
    pub fn new(ep: Endpoint) -> Result<Client, RedfishError> {
        let mut b = reqwest::Client::builder()
            .timeout(ep.timeout)
            .connect_timeout(ep.timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("ironbox/", env!("CARGO_PKG_VERSION")));
        match &ep.verify {
            Verify::System => {}
            Verify::Off => b = b.danger_accept_invalid_certs(true),
            Verify::Bundle(p) => {
                b = b.tls_built_in_root_certs(false);
                for c in read_bundle(p)? {
                    b = b.add_root_certificate(c);
                }
            }
        }
        let http = b
            .build()
            .map_err(|e| RedfishError::Config(format!("HTTP client: {}", chain(&e))))?;
        let bmc = ep.base.clone();
        Ok(Client {
            http,
            ep,
            bmc,
            session: tokio::sync::Mutex::new(None),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// One request, no retries.
    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        creds: &Credentials,
    ) -> Result<Reply, RedfishError> {
        let url = format!("{}{}", self.ep.base, path);
        let mut r = self
            .http
            .request(method.clone(), &url)
            .header("Accept", "application/json");
        match creds {
            Credentials::None => {}
            Credentials::Basic => {
                if let Some(u) = &self.ep.username {
                    r = r.basic_auth(u, self.ep.password.as_deref());
                }
            }
            Credentials::Token(t) => r = r.header("X-Auth-Token", t),
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status().as_u16();
        let token = resp
            .headers()
            .get("X-Auth-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await.map_err(|e| self.transport(e))?;
        Ok(Reply {
            status,
            token,
            body,
        })
    }

    fn transport(&self, e: reqwest::Error) -> RedfishError {
        let text = chain(&e);
        let lower = text.to_lowercase();
        if e.is_timeout() {
            RedfishError::Timeout {
                bmc: self.bmc.clone(),
                secs: self.ep.timeout.as_secs(),
                attempts: 1,
            }
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            RedfishError::Tls {
                bmc: self.bmc.clone(),
                reason: text,
            }
        } else {
            RedfishError::Unreachable {
                bmc: self.bmc.clone(),
                reason: text,
            }
        }
    }

    /// One request with the configured attempts for transport failures (and 503).
    async fn send(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        creds: &Credentials,
    ) -> Result<Reply, RedfishError> {
        let attempts = self.ep.attempts.max(1);
        let mut n = 1;
        loop {
            let r = match self.send_once(method, path, body, creds).await {
                Ok(r) if r.status == 503 => Err(self.http_error(method, path, &r)),
                other => other,
            };
            match r {
                Err(e) if e.retryable() && n < attempts => {
                    tracing::debug!(bmc = %self.bmc, %path, error = %e, attempt = n, "Redfish request failed; retrying");
                    tokio::time::sleep(self.ep.retry_interval).await;
                    n += 1;
                }
                Err(RedfishError::Timeout { bmc, .. }) => {
                    return Err(RedfishError::Timeout {
                        bmc,
                        secs: self.ep.bound().as_secs().max(1),
                        attempts: n,
                    })
                }
                other => return other,
            }
        }
    }

    fn http_error(&self, method: &Method, path: &str, r: &Reply) -> RedfishError {
        if r.status == 401 {
            return RedfishError::Unauthorized {
                bmc: self.bmc.clone(),
            };
        }
        RedfishError::Http {
            bmc: self.bmc.clone(),
            method: method.to_string(),
            path: path.to_string(),
            status: r.status,
            message: error_message(&r.body),
        }
    }

    /// Credentials for the next request: basic, or a session token (logging in first).
    async fn credentials(&self) -> Result<Credentials, RedfishError> {
        if self.ep.auth == Auth::Basic || self.ep.username.is_none() {
            return Ok(Credentials::Basic);
        }
        let mut s = self.session.lock().await;
        if let Some(state) = &*s {
            return Ok(match state {
                Some(t) => Credentials::Token(t.clone()),
                None => Credentials::Basic,
            });
        }
        let state = self.login().await?;
        *s = Some(state.clone());
        Ok(match state {
            Some(t) => Credentials::Token(t),
            None => Credentials::Basic,
        })
    }

    /// Open a session. `Ok(None)`: the BMC has no session service and `Auto` falls back
    /// to basic authentication.
    async fn login(&self) -> Result<Option<String>, RedfishError> {
        let root = self
            .send(&Method::GET, &self.ep.root, None, &Credentials::None)
            .await?;
        let root_json = if (200..300).contains(&root.status) {
            root.json()
        } else {
            None
        };
        let sessions = root_json.as_ref().and_then(|v| {
            v["Links"]["Sessions"]["@odata.id"]
                .as_str()
                .map(str::to_string)
        });
        let no_service = || -> Result<Option<String>, RedfishError> {
            match self.ep.auth {
                Auth::Auto => Ok(None),
                _ => Err(RedfishError::Protocol {
                    bmc: self.bmc.clone(),
                    reason: "the BMC offers no Redfish SessionService; set redfish_auth_type to basic or auto".into(),
                }),
            }
        };
        let Some(path) = sessions else {
            return no_service();
        };
        let body = json!({
            "UserName": self.ep.username.as_deref().unwrap_or(""),
            "Password": self.ep.password.as_deref().unwrap_or(""),
        });
        let r = self
            .send(&Method::POST, &path, Some(&body), &Credentials::None)
            .await?;
        match (r.status, r.token) {
            (200..=299, Some(t)) => Ok(Some(t)),
            (200..=299, None) => Err(RedfishError::Protocol {
                bmc: self.bmc.clone(),
                reason: "session created without an X-Auth-Token header".into(),
            }),
            (404 | 405 | 501, _) => no_service(),
            (_, _) => Err(self.http_error(
                &Method::POST,
                &path,
                &Reply {
                    status: r.status,
                    token: None,
                    body: r.body,
                },
            )),
        }
    }

    /// An authenticated request; a rejected session token is renewed once.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, RedfishError> {
        let creds = self.credentials().await?;
        let mut r = self.send(&method, path, body, &creds).await?;
        if r.status == 401 {
            if let Credentials::Token(_) = creds {
                // The BMC forgot the session (timeout, reboot): log in again, once.
                *self.session.lock().await = None;
                let creds = self.credentials().await?;
                r = self.send(&method, path, body, &creds).await?;
            }
        }
        if !(200..300).contains(&r.status) {
            return Err(self.http_error(&method, path, &r));
        }
        Ok(r.json())
    }

    pub async fn get(&self, path: &str) -> Result<Value, RedfishError> {
        self.request(Method::GET, path, None)
            .await?
            .ok_or_else(|| RedfishError::Protocol {
                bmc: self.bmc.clone(),
                reason: format!("GET {path} returned no JSON"),
            })
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<(), RedfishError> {
        self.request(Method::PATCH, path, Some(body))
            .await
            .map(|_| ())
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<(), RedfishError> {
        self.request(Method::POST, path, Some(body))
            .await
            .map(|_| ())
    }

    pub fn protocol(&self, reason: String) -> RedfishError {
        RedfishError::Protocol {
            bmc: self.bmc.clone(),
            reason,
        }
    }

    /// `@odata.id` of each member of the collection at `path`.
    pub async fn members(&self, path: &str) -> Result<Vec<String>, RedfishError> {
        let v = self.get(path).await?;
        Ok(member_ids(&v))
    }

    /// The ComputerSystem's path: `system_id` (a path, or an Id under `Systems`), or the
    /// only member of the Systems collection.
    pub async fn system_path(&self) -> Result<String, RedfishError> {
        match &self.ep.system_id {
            Some(id) if id.starts_with('/') => Ok(id.clone()),
            Some(id) => Ok(format!("{}Systems/{id}", self.ep.root)),
            None => {
                let systems = format!("{}Systems", self.ep.root);
                let ids = self.members(&systems).await?;
                match ids.as_slice() {
                    [one] => Ok(one.clone()),
                    [] => Err(self.protocol(format!("{systems} has no ComputerSystem"))),
                    many => Err(self.protocol(format!(
                        "{systems} has {} ComputerSystems ({}); set redfish_system_id to choose one",
                        many.len(),
                        many.join(", ")
                    ))),
                }
            }
        }
    }

    /// The ComputerSystem: its path and its JSON.
    pub async fn system(&self) -> Result<(String, Value), RedfishError> {
        let path = self.system_path().await?;
        let v = self.get(&path).await?;
        Ok((path, v))
    }

    /// POST `ComputerSystem.Reset` with `reset_type` (the system's JSON names the target).
    pub async fn reset(
        &self,
        system_path: &str,
        system: &Value,
        reset_type: &str,
    ) -> Result<(), RedfishError> {
        let target = action_target(system_path, system, "ComputerSystem.Reset");
        self.post(&target, &json!({ "ResetType": reset_type }))
            .await
    }

    /// Virtual media devices that take CD/DVD images: the System's own collection first
    /// (newer BMCs), else those of the Managers that manage it. (path, JSON) each.
    pub async fn cd_devices(&self, system: &Value) -> Result<Vec<(String, Value)>, RedfishError> {
        let mut collections = vec![];
        if let Some(p) = system["VirtualMedia"]["@odata.id"].as_str() {
            collections.push(p.to_string());
        }
        for m in member_links(&system["Links"]["ManagedBy"]) {
            if let Ok(mgr) = self.get(&m).await {
                if let Some(p) = mgr["VirtualMedia"]["@odata.id"].as_str() {
                    if !collections.iter().any(|c| c == p) {
                        collections.push(p.to_string());
                    }
                }
            }
        }
        let mut out = vec![];
        for c in collections {
            let Ok(ids) = self.members(&c).await else {
                continue;
            };
            for id in ids {
                let v = self.get(&id).await?;
                let cd = v["MediaTypes"].as_array().is_some_and(|t| {
                    t.iter()
                        .any(|m| matches!(m.as_str(), Some("CD") | Some("DVD")))
                });
                if cd {
                    out.push((id, v));
                }
            }
            if !out.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    pub async fn insert_media(
        &self,
        device_path: &str,
        device: &Value,
        image: &str,
    ) -> Result<(), RedfishError> {
        let target = action_target(device_path, device, "VirtualMedia.InsertMedia");
        self.post(
            &target,
            &json!({"Image": image, "Inserted": true, "WriteProtected": true}),
        )
        .await
    }

    pub async fn eject_media(&self, device_path: &str, device: &Value) -> Result<(), RedfishError> {
        let target = action_target(device_path, device, "VirtualMedia.EjectMedia");
        self.post(&target, &json!({})).await
    }
}

/// `@odata.id`s of a collection's `Members`.
pub fn member_ids(collection: &Value) -> Vec<String> {
    member_links(&collection["Members"])
}

/// `@odata.id`s of a JSON array of links.
pub fn member_links(links: &Value) -> Vec<String> {
    links
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["@odata.id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Where to POST a resource's action: the target it advertises, else the standard path.
fn action_target(path: &str, resource: &Value, action: &str) -> String {
    resource["Actions"][format!("#{action}")]["target"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{path}/Actions/{action}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
