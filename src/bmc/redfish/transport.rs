//! The HTTP side of the Redfish client: building it (TLS roots from redfish_verify_ca),
//! one request with its attempts and timeouts, basic or session authentication with one
//! renewal of a forgotten token, and Redfish error bodies turned into one line.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{json, Value};

use super::*;

/// A parsed reply.
struct Reply {
    status: u16,
    token: Option<String>,
    /// The `Location` header (where an accepted action's task monitor is).
    location: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A successful answer: status, `Location` header, JSON body if any.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: Option<Value>,
}

/// What goes into the Authorization side of a request.
#[derive(Clone)]
enum Credentials {
    None,
    Basic,
    Token(String),
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
        let e = field(&v, "error");
        let extended: Vec<&str> = e
            .get("@Message.ExtendedInfo")
            .and_then(Value::as_array)
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
        let location = resp
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await.map_err(|e| self.transport(e))?;
        Ok(Reply {
            status,
            token,
            location,
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
            v.pointer("/Links/Sessions/@odata.id")
                .and_then(Value::as_str)
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
                    location: None,
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
        Ok(self.exchange(method, path, body).await?.body)
    }

    /// `request` with the status and `Location` of the answer (for actions that start a
    /// task, and for polling a task monitor, which answers 202 while the task runs).
    pub async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, RedfishError> {
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
        Ok(Answer {
            status: r.status,
            body: r.json(),
            location: r.location,
        })
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
}
