//! The agent's client of the appliance (Ironic's ramdisk API): version discovery,
//! `GET /v1/lookup`, `POST /v1/heartbeat/{node}`, `POST /v1/continue_inspection`.

use std::time::Duration;

use serde_json::{json, Value};

const VERSION_HEADER: &str = "X-OpenStack-Ironic-API-Version";
/// Versions IPA asks for: lookup at most 1.62 (agent token), heartbeat at most 1.68.
const LOOKUP_VERSION: (u32, u32) = (1, 62);
const HEARTBEAT_VERSION: (u32, u32) = (1, 68);
/// Assumed when `GET /` fails (IPA does the same).
const FALLBACK_VERSION: (u32, u32) = (1, 31);

#[derive(Debug, thiserror::Error)]
pub enum ApplianceError {
    #[error("{what}: {why}")]
    Http { what: &'static str, why: String },
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("lookup answer is unusable: {0}")]
    BadLookup(String),
}

/// A successful lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub node: Value,
    pub uuid: String,
    /// None when the appliance answered `******` (it issued the token earlier).
    pub token: Option<String>,
    pub heartbeat_timeout: f64,
    pub md5_allowed: bool,
}

/// What a lookup attempt told us.
#[derive(Debug)]
pub enum LookupOutcome {
    Found(Box<Lookup>),
    /// 404: no node with these MACs in a state that expects an agent (yet).
    NotFound,
    /// 409: the node is locked; IPA waits longer.
    Conflict,
}

pub struct Appliance {
    base: String,
    http: reqwest::blocking::Client,
    version: (u32, u32),
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(i) = src {
        s = format!("{s}: {i}");
        src = i.source();
    }
    s
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Appliance {
    pub fn new(base: &str, insecure: bool, timeout: Duration) -> Result<Appliance, ApplianceError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .danger_accept_invalid_certs(insecure)
            .build()
            .map_err(|e| ApplianceError::Http {
                what: "building the HTTP client",
                why: chain(&e),
            })?;
        Ok(Appliance {
            base: base.trim_end_matches('/').to_string(),
            http,
            version: FALLBACK_VERSION,
        })
    }

    fn header(&self, cap: (u32, u32)) -> String {
        let v = self.version.min(cap);
        format!("{}.{}", v.0, v.1)
    }

    /// `GET /`: the appliance's newest API version (1.31 if it cannot be read).
    pub fn discover_version(&mut self) -> (u32, u32) {
        let found = self
            .http
            .get(format!("{}/", self.base))
            .header("Accept", "application/json")
            .send()
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .and_then(|v| {
                v.pointer("/default_version/version")
                    .and_then(Value::as_str)
                    .and_then(parse_version)
            });
        self.version = found.unwrap_or(FALLBACK_VERSION);
        self.version
    }

    pub fn lookup(
        &self,
        macs: &[String],
        node_uuid: Option<&str>,
    ) -> Result<LookupOutcome, ApplianceError> {
        let mut url = format!("{}/v1/lookup?addresses={}", self.base, macs.join(","));
        if let Some(u) = node_uuid {
            url.push_str(&format!("&node_uuid={u}"));
        }
        let r = self
            .http
            .get(&url)
            .header(VERSION_HEADER, self.header(LOOKUP_VERSION))
            .header("Accept", "application/json")
            .send()
            .map_err(|e| ApplianceError::Http {
                what: "lookup",
                why: chain(&e),
            })?;
        let status = r.status().as_u16();
        match status {
            200 => {}
            404 => return Ok(LookupOutcome::NotFound),
            409 => return Ok(LookupOutcome::Conflict),
            _ => {
                return Err(ApplianceError::Status {
                    what: "lookup",
                    status,
                    body: r.text().unwrap_or_default(),
                })
            }
        }
        let v: Value = r.json().map_err(|e| ApplianceError::BadLookup(chain(&e)))?;
        parse_lookup(&v).map(|l| LookupOutcome::Found(Box::new(l)))
    }

    pub fn heartbeat(
        &self,
        uuid: &str,
        callback_url: &str,
        token: &str,
        agent_version: &str,
    ) -> Result<(), ApplianceError> {
        let r = self
            .http
            .post(format!("{}/v1/heartbeat/{uuid}", self.base))
            .header(VERSION_HEADER, self.header(HEARTBEAT_VERSION))
            .json(&json!({"callback_url": callback_url, "agent_token": token,
                          "agent_version": agent_version}))
            .send()
            .map_err(|e| ApplianceError::Http {
                what: "heartbeat",
                why: chain(&e),
            })?;
        let status = r.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(ApplianceError::Status {
                what: "heartbeat",
                status,
                body: r.text().unwrap_or_default(),
            })
        }
    }

    /// `POST <callback>` with the inspection data, without a version header (as IPA).
    pub fn continue_inspection(&self, url: &str, data: &Value) -> Result<Value, ApplianceError> {
        let r = self
            .http
            .post(url)
            .json(data)
            .send()
            .map_err(|e| ApplianceError::Http {
                what: "inspection callback",
                why: chain(&e),
            })?;
        let status = r.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(ApplianceError::Status {
                what: "inspection callback",
                status,
                body: r.text().unwrap_or_default(),
            });
        }
        Ok(r.json().unwrap_or(Value::Null))
    }
}

/// Read a lookup body; `config` missing means the pre-token format (top-level timeout).
pub fn parse_lookup(v: &Value) -> Result<Lookup, ApplianceError> {
    let node = v.get("node").cloned().unwrap_or(Value::Null);
    let uuid = node
        .get("uuid")
        .and_then(Value::as_str)
        .ok_or_else(|| ApplianceError::BadLookup("node.uuid is missing".into()))?
        .to_string();
    let cfg = v.get("config").unwrap_or(v);
    let token = cfg["agent_token"]
        .as_str()
        .filter(|t| *t != "******" && !t.is_empty())
        .map(str::to_string);
    Ok(Lookup {
        node,
        uuid,
        token,
        heartbeat_timeout: cfg["heartbeat_timeout"].as_f64().unwrap_or(300.0),
        md5_allowed: cfg["agent_md5_checksum_enable"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_bodies() {
        let l = parse_lookup(&json!({"node": {"uuid": "u1", "properties": {}},
            "config": {"heartbeat_timeout": 60, "agent_token": "t", "agent_md5_checksum_enable": true}}))
        .unwrap();
        assert_eq!(
            (
                l.uuid.as_str(),
                l.token.as_deref(),
                l.heartbeat_timeout,
                l.md5_allowed
            ),
            ("u1", Some("t"), 60.0, true)
        );
        let l = parse_lookup(&json!({"node": {"uuid": "u1"}, "config": {"agent_token": "******"}}))
            .unwrap();
        assert_eq!(l.token, None);
        assert_eq!(l.heartbeat_timeout, 300.0);
        let l = parse_lookup(&json!({"node": {"uuid": "u1"}, "heartbeat_timeout": 30})).unwrap();
        assert_eq!(l.heartbeat_timeout, 30.0);
        assert!(parse_lookup(&json!({"node": {}})).is_err());
    }

    #[test]
    fn version_cap() {
        let mut a =
            Appliance::new("http://127.0.0.1:9", false, Duration::from_millis(200)).unwrap();
        assert_eq!(a.discover_version(), FALLBACK_VERSION);
        assert_eq!(a.header(LOOKUP_VERSION), "1.31");
        a.version = (1, 96);
        assert_eq!(a.header(LOOKUP_VERSION), "1.62");
        assert_eq!(a.header(HEARTBEAT_VERSION), "1.68");
        assert_eq!(parse_version("1.9"), Some((1, 9)));
    }
}
