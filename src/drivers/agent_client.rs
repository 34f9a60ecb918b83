//! The conductor's client of a deploy agent's REST API (ironic-python-agent's, which
//! ironbox's built-in agent also serves): `POST /v1/commands/` and `GET /v1/commands/`,
//! every call carrying `?agent_token=`. Where the agent is and its token live in the
//! node's `driver_internal_info` (written by lookup and heartbeat).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::dii::{AGENT_STEPS, AGENT_TOKEN, AGENT_URL, AGENT_VERIFY_CA};
use crate::model::step::StepKind;
use crate::model::JsonObject;

/// The `(interface, step)`s the running agent offers for `kind`, as cached from its
/// `get_<kind>_steps` answer; empty before it answered.
pub fn agent_steps(dii: &JsonObject, kind: StepKind) -> Vec<(String, String)> {
    let Some(cached) = dii.get(AGENT_STEPS) else {
        return vec![];
    };
    if cached.get("kind").and_then(Value::as_str) != Some(kind.name()) {
        return vec![];
    }
    cached
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s.get("interface")?.as_str()?.to_string(),
                s.get("step")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum AgentClientError {
    /// The agent runs another command (HTTP 409): try again on the next heartbeat.
    #[error("agent is busy")]
    Busy,
    #[error("the agent refused our token (401); the ramdisk must be rebooted")]
    Unauthorized,
    #[error("no agent has called back yet (no agent_url)")]
    NotRunning,
    #[error("agent at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("agent at {url}: {reason}")]
    Protocol { url: String, reason: String },
}

/// One command as the agent reports it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CommandResult {
    #[serde(default)]
    pub id: Option<String>,
    pub command_name: String,
    pub command_status: String,
    #[serde(default)]
    pub command_error: Option<Value>,
    #[serde(default)]
    pub command_result: Option<Value>,
}

impl CommandResult {
    pub fn running(&self) -> bool {
        self.command_status == "RUNNING"
    }
    pub fn succeeded(&self) -> bool {
        self.command_status == "SUCCEEDED"
    }
    /// The agent's error for a failed command: its details, else its message (Ironic's
    /// `get_command_error`; IPA's messages are generic, e.g. "Command execution failed").
    pub fn error_message(&self) -> String {
        match &self.command_error {
            Some(Value::Object(o)) => ["details", "message"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                .map(str::to_string)
                .unwrap_or_else(|| Value::Object(o.clone()).to_string()),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => format!(
                "command {} ended {}",
                self.command_name, self.command_status
            ),
        }
    }
}

pub struct AgentClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// Plain-HTTP agents share one client (its connection pool and TLS set-up are not free).
fn shared_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    // No idle connections kept: after a reboot the next agent has the same address and
    // port, and a pooled connection to the old one fails the first request.
    let c = reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()?;
    Ok(CLIENT.get_or_init(|| c).clone())
}

/// TLS that trusts exactly the certificate the agent announced in its heartbeat (IPA's
/// auto-TLS: a self-signed leaf, which ordinary CA validation refuses), whatever name it
/// carries: the pin is the whole check.
fn pinned_tls(pem: &str) -> Result<rustls::ClientConfig, String> {
    let cert = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .ok_or("agent_verify_ca holds no certificate")?
        .map_err(|e| format!("bad agent_verify_ca: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        cert,
        algorithms: provider.signature_verification_algorithms,
    });
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[derive(Debug)]
struct Pinned {
    cert: rustls::pki_types::CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the agent's certificate is not the one it announced".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl AgentClient {
    /// The client for the agent a node's last heartbeat named.
    pub fn for_node(dii: &JsonObject, timeout: Duration) -> Result<Self, AgentClientError> {
        let base = dii
            .get(AGENT_URL)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(AgentClientError::NotRunning)?
            .trim_end_matches('/')
            .to_string();
        let token = dii
            .get(AGENT_TOKEN)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let protocol = |reason: String| AgentClientError::Protocol {
            url: base.clone(),
            reason,
        };
        let http = match dii.get(AGENT_VERIFY_CA).and_then(Value::as_str) {
            // An agent with its own certificate (IPA's auto-TLS): trust exactly that one.
            Some(pem) if base.starts_with("https://") => {
                let tls = pinned_tls(pem).map_err(protocol)?;
                reqwest::Client::builder()
                    .timeout(timeout)
                    .pool_max_idle_per_host(0)
                    .use_preconfigured_tls(tls)
                    .build()
                    .map_err(|e| protocol(e.to_string()))?
            }
            _ => shared_client(timeout).map_err(|e| protocol(e.to_string()))?,
        };
        Ok(AgentClient { http, base, token })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, AgentClientError> {
        let mut u = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| {
            AgentClientError::Protocol {
                url: self.base.clone(),
                reason: format!("bad agent URL: {e}"),
            }
        })?;
        u.query_pairs_mut().append_pair("agent_token", &self.token);
        for (k, v) in query {
            u.query_pairs_mut().append_pair(k, v);
        }
        Ok(u)
    }

    /// Send a request, retrying connection failures (the agent may be starting up).
    async fn send(
        &self,
        make: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AgentClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match make().send().await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_connect() && attempt < 3 => {
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
                Err(e) => {
                    return Err(AgentClientError::Unreachable {
                        url: self.base.clone(),
                        // The URL carries the agent token: never let it into an error.
                        reason: e.without_url().to_string(),
                    });
                }
            }
        }
    }

    async fn decode<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
    ) -> Result<T, AgentClientError> {
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| AgentClientError::Unreachable {
                url: self.base.clone(),
                reason: e.without_url().to_string(),
            })?;
        let text = String::from_utf8_lossy(&body);
        match status.as_u16() {
            200..=299 => serde_json::from_slice(&body).map_err(|e| AgentClientError::Protocol {
                url: self.base.clone(),
                reason: format!("malformed answer ({e}): {}", clip(&text)),
            }),
            401 => Err(AgentClientError::Unauthorized),
            409 => Err(AgentClientError::Busy),
            _ if text.to_ascii_lowercase().contains("agent is busy") => Err(AgentClientError::Busy),
            s => Err(AgentClientError::Protocol {
                url: self.base.clone(),
                reason: format!("HTTP {s}: {}", fault(&text)),
            }),
        }
    }

    /// `POST /v1/commands/`: run `name` (`extension.command`) with `params`. With `wait`
    /// the agent answers when the command has finished.
    pub async fn execute(
        &self,
        name: &str,
        params: Value,
        wait: bool,
    ) -> Result<CommandResult, AgentClientError> {
        let url = self.url(
            "/v1/commands/",
            &[("wait", if wait { "true" } else { "false" })],
        )?;
        let body = json!({"name": name, "params": params});
        tracing::debug!(agent = %self.base, command = name, "agent command");
        let resp = self
            .send(|| self.http.post(url.clone()).json(&body))
            .await?;
        self.decode(resp).await
    }

    /// `GET /v1/commands/`: every command this agent ran, oldest first.
    pub async fn commands(&self) -> Result<Vec<CommandResult>, AgentClientError> {
        #[derive(Deserialize)]
        struct List {
            commands: Vec<CommandResult>,
        }
        let url = self.url("/v1/commands/", &[])?;
        let resp = self.send(|| self.http.get(url.clone())).await?;
        Ok(self.decode::<List>(resp).await?.commands)
    }

    /// The latest run of `command_name` (without its extension), if any.
    pub async fn last(
        &self,
        command_name: &str,
    ) -> Result<Option<CommandResult>, AgentClientError> {
        Ok(self
            .commands()
            .await?
            .into_iter()
            .rev()
            .find(|c| c.command_name == command_name))
    }
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

/// IPA's error bodies are `{"faultstring": ...}`; show that when present.
fn fault(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.get("faultstring")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| clip(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages() {
        let c: CommandResult = serde_json::from_value(json!({
            "id": "1", "command_name": "execute_deploy_step", "command_status": "FAILED",
            "command_error": {"type": "ImageChecksumError", "code": 500,
                              "message": "Error verifying image checksum",
                              "details": "Image failed to verify against checksum"},
            "command_result": null}))
        .unwrap();
        // Ironic's get_command_error: details first, the generic message only without them.
        assert_eq!(c.error_message(), "Image failed to verify against checksum");
        let generic: CommandResult = serde_json::from_value(json!({
            "id": "2", "command_name": "install_bootloader", "command_status": "FAILED",
            "command_error": {"type": "CommandExecutionError", "message": "Command execution failed", "details": ""}}))
        .unwrap();
        assert_eq!(generic.error_message(), "Command execution failed");
        assert!(!c.running() && !c.succeeded());
        assert_eq!(
            fault(r#"{"faultstring": "Token invalid."}"#),
            "Token invalid."
        );
        assert_eq!(fault("plain"), "plain");
    }

    /// A self-signed, non-CA certificate for 127.0.0.1 (what IPA's auto-TLS makes).
    fn self_signed(dir: &std::path::Path, name: &str) -> (String, String) {
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        let ok = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=agent",
            ])
            .args([
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ])
            .arg("-keyout")
            .arg(&k)
            .arg("-out")
            .arg(&c)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "openssl");
        (
            std::fs::read_to_string(c).unwrap(),
            std::fs::read_to_string(k).unwrap(),
        )
    }

    #[tokio::test]
    async fn https_agents_are_trusted_by_their_announced_certificate_only() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(dir.path(), "agent");
        let (other, _) = self_signed(dir.path(), "other");
        let certs = rustls_pemfile::certs(&mut cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pemfile::private_key(&mut key.as_bytes())
            .unwrap()
            .unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = actix_web::HttpServer::new(|| {
            actix_web::App::new().default_service(actix_web::web::to(|| async {
                actix_web::HttpResponse::Ok().json(json!({"commands": []}))
            }))
        })
        .workers(1)
        .disable_signals()
        .listen_rustls_0_23(listener, tls)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        let dii = |pem: &str| {
            let mut d = JsonObject::new();
            d.insert(AGENT_URL.into(), json!(format!("https://{addr}")));
            d.insert(AGENT_TOKEN.into(), json!("t"));
            d.insert(AGENT_VERIFY_CA.into(), json!(pem));
            d
        };
        let ok = AgentClient::for_node(&dii(&cert), Duration::from_secs(5)).unwrap();
        assert_eq!(ok.commands().await, Ok(vec![]));
        let wrong = AgentClient::for_node(&dii(&other), Duration::from_secs(5)).unwrap();
        assert!(matches!(
            wrong.commands().await,
            Err(AgentClientError::Unreachable { .. })
        ));
        assert!(AgentClient::for_node(&dii("not a pem"), Duration::from_secs(5)).is_err());
        handle.stop(false).await;
    }

    #[test]
    fn needs_an_agent_url() {
        assert_eq!(
            AgentClient::for_node(&JsonObject::new(), Duration::from_secs(1)).err(),
            Some(AgentClientError::NotRunning)
        );
    }
}
