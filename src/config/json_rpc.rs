//! `[DEFAULT] rpc_transport` and `[json_rpc]`: whether members forward work on nodes they do
//! not own to the owner, and how the owner's RPC listener is reached and guarded. Ironic's
//! option names; off (`none`) by default, so a single box opens no extra port.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::check::Checker;
use super::sections::AuthStrategy;
use super::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonRpcFile {
    /// Address the RPC listener binds (loopback unless configured).
    pub host_ip: String,
    /// Its port; 0 picks a free one (tests).
    pub port: u16,
    /// `noauth` or `http_basic`; unset: `[DEFAULT] auth_strategy`.
    pub auth_strategy: Option<String>,
    /// htpasswd file (bcrypt) the listener checks callers against.
    pub http_basic_auth_user_file: String,
    /// What this member sends when calling another with `http_basic`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// TLS on the RPC listener and its calls.
    pub use_ssl: bool,
}

impl Default for JsonRpcFile {
    fn default() -> Self {
        JsonRpcFile {
            host_ip: "127.0.0.1".into(),
            port: 8089,
            auth_strategy: None,
            http_basic_auth_user_file: "/etc/ironbox/htpasswd-json-rpc".into(),
            username: None,
            password: None,
            use_ssl: false,
        }
    }
}

#[derive(Clone)]
pub struct JsonRpcSection {
    /// `[DEFAULT] rpc_transport = "json-rpc"`: listen, and forward to owners.
    pub enabled: bool,
    pub host_ip: IpAddr,
    pub port: u16,
    pub auth_strategy: AuthStrategy,
    pub http_basic_auth_user_file: PathBuf,
    /// (username, password) sent to other members.
    pub credentials: Option<(String, String)>,
}

/// The password stays out of any debug output.
impl fmt::Debug for JsonRpcSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonRpcSection")
            .field("enabled", &self.enabled)
            .field("host_ip", &self.host_ip)
            .field("port", &self.port)
            .field("auth_strategy", &self.auth_strategy)
            .field("http_basic_auth_user_file", &self.http_basic_auth_user_file)
            .field("username", &self.credentials.as_ref().map(|c| &c.0))
            .finish()
    }
}

impl JsonRpcSection {
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.host_ip, self.port)
    }
}

impl Checker<'_> {
    pub fn json_rpc(
        &self,
        j: JsonRpcFile,
        rpc_transport: &str,
        default_auth: AuthStrategy,
    ) -> Result<JsonRpcSection, ConfigError> {
        const S: &str = "json_rpc";
        let enabled = match rpc_transport {
            "none" => false,
            "json-rpc" => true,
            other => {
                return Err(self.bad(
                    "DEFAULT",
                    "rpc_transport",
                    format!("{other:?} is not one of none, json-rpc"),
                ))
            }
        };
        let host_ip: IpAddr = j.host_ip.parse().map_err(|_| {
            self.bad(
                S,
                "host_ip",
                format!("{:?} is not an IP address", j.host_ip),
            )
        })?;
        let auth_strategy = match j.auth_strategy.as_deref() {
            None => default_auth,
            Some("noauth") => AuthStrategy::Noauth,
            Some("http_basic") => AuthStrategy::HttpBasic,
            Some(other) => {
                return Err(self.bad(
                    S,
                    "auth_strategy",
                    format!("{other:?} is not one of noauth, http_basic"),
                ))
            }
        };
        if j.use_ssl {
            return Err(self.bad(S, "use_ssl", "TLS between members is not supported yet"));
        }
        let credentials = match (j.username, j.password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) => return Err(self.bad(S, "password", "required with username")),
            (None, Some(_)) => return Err(self.bad(S, "username", "required with password")),
        };
        if enabled && auth_strategy == AuthStrategy::HttpBasic && credentials.is_none() {
            return Err(self.bad(
                S,
                "username",
                "username and password are required with auth_strategy = http_basic",
            ));
        }
        Ok(JsonRpcSection {
            enabled,
            host_ip,
            port: j.port,
            auth_strategy,
            http_basic_auth_user_file: PathBuf::from(j.http_basic_auth_user_file),
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn off_by_default_and_on_with_json_rpc() {
        let c = Config::parse("", "t").unwrap();
        assert!(!c.json_rpc.enabled);
        assert_eq!(c.json_rpc.addr().to_string(), "127.0.0.1:8089");
        let c = Config::parse(
            "[DEFAULT]\nrpc_transport = \"json-rpc\"\n[json_rpc]\nauth_strategy = \"http_basic\"\nusername = \"u\"\npassword = \"hunter2\"\n",
            "t",
        )
        .unwrap();
        assert!(c.json_rpc.enabled);
        let shown = format!("{:?}", c.json_rpc);
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[DEFAULT]\nrpc_transport = \"oslo\"", "[DEFAULT] rpc_transport"),
            ("[json_rpc]\nauth_strategy = \"keystone\"", "[json_rpc] auth_strategy"),
            ("[json_rpc]\nhost_ip = \"somewhere\"", "[json_rpc] host_ip"),
            ("[json_rpc]\nusername = \"u\"", "[json_rpc] password"),
            ("[json_rpc]\nuse_ssl = true", "[json_rpc] use_ssl"),
            (
                "[DEFAULT]\nrpc_transport = \"json-rpc\"\n[json_rpc]\nauth_strategy = \"http_basic\"",
                "[json_rpc] username",
            ),
            ("[json_rpc]\nport = 70000", "TOML"),
        ] {
            let err = Config::parse(text, "t.toml").unwrap_err().to_string();
            assert!(
                err.contains(key) || (key == "TOML" && err.starts_with("t.toml")),
                "{text}: {err}"
            );
        }
    }
}
