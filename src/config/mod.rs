//! Validated configuration. `file.rs` mirrors the TOML; `check.rs` turns it into the typed
//! sections of `sections.rs`, checking everything that needs no live network, and every error
//! names the file, the `[section] key` and the reason. No other module reads the file or the
//! environment, and none sees the raw file.

mod check;
mod file;
pub mod htpasswd;
mod json_rpc;
mod rules_file;
mod sections;

use std::path::Path;

use file::FileConfig;
pub use json_rpc::JsonRpcSection;
pub use sections::*;

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

/// The configuration every layer receives (each reads only its own section), with the
/// file's section and key names.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from, for messages ("<defaults>" when no file was given).
    pub source: String,
    pub default: DefaultSection,
    pub api: ApiSection,
    pub conductor: ConductorSection,
    pub database: DatabaseSection,
    pub ssl: SslSection,
    pub fake: FakeSection,
    pub ipmi: IpmiSection,
    pub redfish: RedfishSection,
    pub dhcp: DhcpSection,
    pub pxe: PxeSection,
    pub agent: AgentSection,
    pub deploy: DeploySection,
    pub metrics: MetricsSection,
    pub console: ConsoleSection,
    pub auto_discovery: AutoDiscoverySection,
    pub inspector: InspectorSection,
    pub inspection_rules: InspectionRulesSection,
    pub json_rpc: JsonRpcSection,
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

    fn from_file(file: FileConfig, shown: &str) -> Result<Self, ConfigError> {
        let ck = check::Checker { path: shown };
        let rpc_transport = file.default.rpc_transport.clone();
        let default = ck.default(file.default)?;
        let api = ck.api(file.api, default.auth_strategy)?;
        Ok(Config {
            source: shown.to_string(),
            ssl: ck.ssl(file.ssl, api.enable_ssl_api)?,
            api,
            redfish: ck.redfish(file.redfish)?,
            conductor: ck.conductor(file.conductor)?,
            fake: ck.fake(file.fake)?,
            database: ck.database(file.database, &default.state_path)?,
            pxe: ck.pxe(file.pxe, &default.state_path)?,
            dhcp: ck.dhcp(file.dhcp)?,
            ipmi: ck.ipmi(file.ipmi)?,
            agent: ck.agent(file.agent)?,
            deploy: ck.deploy(file.deploy)?,
            metrics: ck.metrics(file.metrics)?,
            console: ck.console(file.console)?,
            auto_discovery: ck.auto_discovery(file.auto_discovery, &default)?,
            inspector: ck.inspector(file.inspector)?,
            inspection_rules: ck.inspection_rules(file.inspection_rules)?,
            json_rpc: ck.json_rpc(file.json_rpc, &rpc_transport, default.auth_strategy)?,
            default,
        })
    }
}

#[cfg(test)]
mod tests;
