//! The `redfish` power, management, inspect, bios and firmware interfaces and the
//! `redfish-virtual-media` boot interface (Ironic's names), over `bmc::redfish`. driver_info keys as Ironic's:
//! redfish_address, redfish_system_id, redfish_username, redfish_password,
//! redfish_verify_ca, redfish_auth_type; plus redfish_deploy_iso for virtual media.
//!
//! One file per Ironic interface module, as in ironic/drivers/modules/redfish/: `power`,
//! `management`, `boot` (virtual media), `inspect`, `bios` and `firmware`; this file parses driver_info into
//! a `bmc::redfish` endpoint for all of them (Ironic's redfish/utils.py).

pub mod bios;
pub mod boot;
pub mod firmware;
pub mod inspect;
pub mod management;
pub mod power;
pub mod vendor;
pub mod vmedia;

pub use bios::RedfishBios;
pub use boot::RedfishVirtualMediaBoot;
pub use firmware::RedfishFirmware;
pub use inspect::RedfishInspect;
pub use management::RedfishManagement;
pub use power::RedfishPower;
pub use vendor::RedfishVendor;

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::*;
use crate::bmc::redfish::{self, field, Auth, Client, Endpoint, RedfishError, Verify};

pub const PROPERTIES: &[(&str, &str)] = &[
    ("redfish_address", "URL of the Redfish service, with at least its authority (host and optional port); https is assumed when the scheme is missing, e.g. https://bmc.example.com. A path, if given, is the service root (default /redfish/v1/). Required."),
    ("redfish_system_id", "Path of the ComputerSystem to manage, e.g. /redfish/v1/Systems/1. Needed only when the BMC manages more than one system; otherwise the only one is used. Optional."),
    ("redfish_username", "User name of an account allowed to manage the system. Optional, but recommended."),
    ("redfish_password", "Password of that account. Optional, but recommended."),
    ("redfish_verify_ca", "true (default: verify the BMC's certificate against the built-in roots), false (do not verify), or the path of a CA bundle file or directory to verify against. Optional."),
    ("redfish_auth_type", "\"basic\", \"session\" or \"auto\" (a session when the BMC offers one, else basic). Default: [redfish] auth_type. Optional."),
    ("redfish_deploy_iso", "URL of a bootable ISO the redfish-virtual-media boot interface inserts to boot the deploy, rescue or inspection ramdisk (instance_info deploy_iso or boot_iso take precedence). ironbox does not build ISOs. Optional."),
];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Ironic's strict boolean strings.
fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// Parse and check driver_info into an endpoint (Ironic's messages).
pub fn endpoint(ctx: &TaskContext<'_>) -> Result<Endpoint, DriverError> {
    let node = &ctx.node.uuid;
    let di = &ctx.node.driver_info;
    let get = |k: &str| di.get(k).and_then(text).filter(|s| !s.is_empty());
    let address = get("redfish_address").ok_or_else(|| {
        DriverError::MissingParameterValue(format!(
            "Missing the following Redfish properties in node {node} driver_info: ['redfish_address']"
        ))
    })?;
    let (base, root) = redfish::normalize_address(&address).map_err(|why| {
        // The address may hold the very credentials the check refuses: quote it masked.
        let address = crate::model::secrets::mask_text(&address);
        DriverError::InvalidParameterValue(format!(
            "Invalid Redfish address {address} set in driver_info/redfish_address on node {node}: {why}"
        ))
    })?;
    let system_id = match di.get("redfish_system_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() && !s.contains(char::is_whitespace) => {
            Some(s.clone())
        }
        Some(other) => {
            return Err(DriverError::InvalidParameterValue(format!(
                "Invalid value {other} set in driver_info/redfish_system_id on node {node}. The value should be a path (string) to the resource that the driver will interact with. For example: /redfish/v1/Systems/1"
            )))
        }
    };
    let bad_verify = |v: &Value| {
        let hint = match v.as_str() {
            Some(s) if s.contains('/') => " (no such file or directory)",
            _ => "",
        };
        DriverError::InvalidParameterValue(format!(
            "Invalid value type set in driver_info/redfish_verify_ca on node {node}. The value should be a Boolean or the path to a file/directory, not {v}{hint}"
        ))
    };
    let verify = match di.get("redfish_verify_ca") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => Verify::System,
        Some(Value::Bool(false)) => Verify::Off,
        Some(Value::String(s)) if Path::new(s).exists() => Verify::Bundle(s.into()),
        Some(v @ Value::String(s)) => match parse_bool(s) {
            Some(true) => Verify::System,
            Some(false) => Verify::Off,
            None => return Err(bad_verify(v)),
        },
        Some(v) => return Err(bad_verify(v)),
    };
    let c = &ctx.config.redfish;
    let auth_name = match di.get("redfish_auth_type") {
        None | Some(Value::Null) => c.auth_type.as_str().to_string(),
        Some(v) => text(v).unwrap_or_else(|| v.to_string()),
    };
    let auth = match auth_name.as_str() {
        "basic" => Auth::Basic,
        "session" => Auth::Session,
        "auto" => Auth::Auto,
        other => return Err(DriverError::InvalidParameterValue(format!(
            "Invalid value \"{other}\" set in driver_info/redfish_auth_type on node {node}. The value should be one of \"basic\", \"session\" or \"auto\"."
        ))),
    };
    Ok(Endpoint {
        base,
        root,
        system_id,
        username: get("redfish_username"),
        password: get("redfish_password"),
        verify,
        auth,
        timeout: c.request_timeout,
        attempts: c.connection_attempts.max(1),
        retry_interval: c.connection_retry_interval,
    })
}

fn bmc_err(e: RedfishError) -> DriverError {
    match e {
        RedfishError::Timeout { .. } => DriverError::Timeout(e.to_string()),
        RedfishError::Config(m) => DriverError::InvalidParameterValue(m),
        other => DriverError::client(other),
    }
}

fn client(ctx: &TaskContext<'_>) -> Result<Arc<Client>, DriverError> {
    redfish::client(&endpoint(ctx)?).map_err(bmc_err)
}

/// The ComputerSystem (path, JSON).
async fn system(c: &Client) -> Result<(String, Value), DriverError> {
    crate::metrics::bmc_timed("redfish", "get_system", c.system())
        .await
        .map_err(bmc_err)
}
