//! The `redfish` power, management and inspect interfaces and the `redfish-virtual-media`
//! boot interface (Ironic's names), over `bmc::redfish`. driver_info keys as Ironic's:
//! redfish_address, redfish_system_id, redfish_username, redfish_password,
//! redfish_verify_ca, redfish_auth_type; plus redfish_deploy_iso for virtual media.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::*;
use crate::bmc::redfish::{self, Auth, Client, Endpoint, RedfishError, Verify};
use crate::model::boot::BootIntent;
use crate::model::states::{POWER_OFF, POWER_ON};

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
    let c = &ctx.config.file.redfish;
    let auth_name = match di.get("redfish_auth_type") {
        None | Some(Value::Null) => c.auth_type.clone(),
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
        timeout: Duration::from_secs(c.request_timeout.max(1)),
        attempts: c.connection_attempts.max(1),
        retry_interval: Duration::from_secs(c.connection_retry_interval),
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
    c.system().await.map_err(bmc_err)
}

/// Redfish PowerState → on (true) / off (false); transitions count as where they go.
pub fn power_of(system: &Value) -> Result<bool, DriverError> {
    match system["PowerState"].as_str() {
        Some("On") | Some("PoweringOn") => Ok(true),
        Some("Off") | Some("PoweringOff") => Ok(false),
        other => Err(DriverError::Failed(format!(
            "the BMC reports an unknown PowerState {}",
            other.unwrap_or("(none)")
        ))),
    }
}

/// The ResetType values the system advertises (empty when it says nothing).
pub fn allowed_resets(system: &Value) -> Vec<String> {
    system["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The ResetType to send for `wanted`: it, or an equivalent the BMC allows. A BMC that
/// advertises nothing gets the standard value.
pub fn choose_reset(wanted: &str, allowed: &[String]) -> Result<&'static str, DriverError> {
    let candidates: &[&'static str] = match wanted {
        "On" => &["On", "ForceOn"],
        "ForceOff" => &["ForceOff"],
        "GracefulShutdown" => &["GracefulShutdown"],
        "GracefulRestart" => &["GracefulRestart"],
        "ForceRestart" => &["ForceRestart", "PowerCycle"],
        "Nmi" => &["Nmi"],
        _ => &[],
    };
    if allowed.is_empty() {
        if let Some(c) = candidates.first() {
            return Ok(c);
        }
    }
    candidates
        .iter()
        .find(|c| allowed.iter().any(|a| a == *c))
        .copied()
        .ok_or_else(|| {
            DriverError::Failed(format!(
                "the BMC does not allow ResetType {wanted} (allowed: {})",
                allowed.join(", ")
            ))
        })
}

async fn reset(c: &Client, path: &str, sys: &Value, wanted: &str) -> Result<(), DriverError> {
    let rt = choose_reset(wanted, &allowed_resets(sys))?;
    c.reset(path, sys, rt).await.map_err(bmc_err)
}

/// Poll until the system reports `on`, or fail after `within`.
async fn wait_for(c: &Client, on: bool, within: Duration) -> Result<(), DriverError> {
    let deadline = Instant::now() + within;
    loop {
        let (_, sys) = system(c).await?;
        if power_of(&sys)? == on {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(DriverError::Timeout(format!(
                "the BMC did not report power {} within {} s",
                if on { "on" } else { "off" },
                within.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn within(ctx: &TaskContext<'_>, timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or(Duration::from_secs(
        ctx.config.file.conductor.power_state_change_timeout,
    ))
}

pub struct RedfishPower;

#[async_trait]
impl PowerInterface for RedfishPower {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
    async fn get_power_state(&self, ctx: &mut TaskContext<'_>) -> Result<String, DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        Ok(if power_of(&sys)? { POWER_ON } else { POWER_OFF }.into())
    }
    async fn set_power_state(
        &self,
        ctx: &mut TaskContext<'_>,
        target: &str,
        timeout: Option<Duration>,
    ) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let within = within(ctx, timeout);
        let (wanted, on) = match target {
            POWER_ON => ("On", true),
            "soft power off" => ("GracefulShutdown", false),
            _ => ("ForceOff", false),
        };
        let (path, sys) = system(&c).await?;
        if power_of(&sys)? != on {
            if on {
                restore_boot(ctx, &c).await;
            }
            reset(&c, &path, &sys, wanted).await?;
            wait_for(&c, on, within).await?;
        }
        ctx.node.power_state = Some(if on { POWER_ON } else { POWER_OFF }.into());
        Ok(())
    }
    /// Ironic's: a hard reboot is ForceOff (wait) then On (wait); a soft one is
    /// GracefulRestart where allowed, else GracefulShutdown (wait) then On. Off → On.
    async fn reboot(
        &self,
        ctx: &mut TaskContext<'_>,
        soft: bool,
        timeout: Option<Duration>,
    ) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let within = within(ctx, timeout);
        let (path, sys) = system(&c).await?;
        if power_of(&sys)? {
            let allowed = allowed_resets(&sys);
            let graceful_restart =
                soft && (allowed.is_empty() || allowed.iter().any(|a| a == "GracefulRestart"));
            if graceful_restart {
                restore_boot(ctx, &c).await;
                reset(&c, &path, &sys, "GracefulRestart").await?;
                wait_for(&c, true, within).await?;
                ctx.node.power_state = Some(POWER_ON.into());
                return Ok(());
            }
            reset(
                &c,
                &path,
                &sys,
                if soft { "GracefulShutdown" } else { "ForceOff" },
            )
            .await?;
            wait_for(&c, false, within).await?;
        }
        restore_boot(ctx, &c).await;
        let (path, sys) = system(&c).await?;
        reset(&c, &path, &sys, "On").await?;
        wait_for(&c, true, within).await?;
        ctx.node.power_state = Some(POWER_ON.into());
        Ok(())
    }
}

/// Ironic boot device → BootSourceOverrideTarget.
pub fn boot_target(device: &str) -> Option<&'static str> {
    match device {
        "pxe" => Some("Pxe"),
        "disk" => Some("Hdd"),
        "cdrom" => Some("Cd"),
        "bios" => Some("BiosSetup"),
        _ => None,
    }
}

/// BootSourceOverrideTarget → Ironic boot device (None for targets Ironic has no name for).
pub fn boot_device(target: &str) -> Option<&'static str> {
    match target {
        "Pxe" => Some("pxe"),
        "Hdd" => Some("disk"),
        "Cd" => Some("cdrom"),
        "BiosSetup" => Some("bios"),
        _ => None,
    }
}

/// Ironic boot mode → BootSourceOverrideMode.
pub fn boot_mode_value(mode: &str) -> Option<&'static str> {
    match mode {
        "uefi" => Some("UEFI"),
        "bios" => Some("Legacy"),
        _ => None,
    }
}

/// The node's boot mode: its boot_mode field, else its `boot_mode` capability.
fn node_boot_mode(ctx: &TaskContext<'_>) -> Option<String> {
    if let Some(m) = ctx.node.boot_mode.as_deref().filter(|m| !m.is_empty()) {
        return Some(m.to_string());
    }
    super::boot_mode::capability(ctx.node.properties.get("capabilities"), "boot_mode")
}

/// Where a persistent boot device the BMC refused is remembered, to be set again (once)
/// before each power on (Ironic's key).
const RESTORE_KEY: &str = "redfish_boot_device";

/// Set the boot device. A BMC that refuses Continuous (Redfish deprecated it; some
/// vendors dropped it) gets Once, and the device is set again before every power on, as
/// Ironic does.
async fn set_boot(
    ctx: &mut TaskContext<'_>,
    c: &Client,
    device: &str,
    persistent: bool,
) -> Result<(), DriverError> {
    ctx.node.driver_internal_info.remove(RESTORE_KEY);
    match patch_boot(ctx, c, device, persistent).await? {
        Err(e)
            if persistent
                && e.status()
                    .is_some_and(|s| (400..500).contains(&s) && s != 401) =>
        {
            tracing::warn!(node = %ctx.node.uuid, %device, error = %e,
                "the BMC refused a persistent boot device; using one-time boot, restored before each power on");
            patch_boot(ctx, c, device, false).await?.map_err(bmc_err)?;
            ctx.node
                .driver_internal_info
                .insert(RESTORE_KEY.into(), json!(device));
            Ok(())
        }
        other => other.map_err(bmc_err),
    }
}

/// Before a power on: set the remembered boot device again, once. A failure is only
/// logged: the machine then boots from its configured order (Ironic's choice).
async fn restore_boot(ctx: &TaskContext<'_>, c: &Client) {
    let Some(device) = ctx
        .node
        .driver_internal_info
        .get(RESTORE_KEY)
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let r = match patch_boot(ctx, c, &device, false).await {
        Ok(r) => r.map_err(bmc_err),
        Err(e) => Err(e),
    };
    if let Err(e) = r {
        tracing::warn!(node = %ctx.node.uuid, %device, error = %e, "could not restore the boot device");
    }
}

/// PATCH the boot override: target, Once/Continuous, and the node's boot mode when the
/// system reports one (some BMCs reset it to Legacy when the device changes). The outer
/// error: the request could not be made; the inner: the BMC's answer to the PATCH.
async fn patch_boot(
    ctx: &TaskContext<'_>,
    c: &Client,
    device: &str,
    persistent: bool,
) -> Result<Result<(), RedfishError>, DriverError> {
    let target = boot_target(device).ok_or_else(|| {
        DriverError::InvalidParameterValue(format!("Invalid boot device {device} specified."))
    })?;
    let (path, sys) = system(c).await?;
    if let Some(allowed) =
        sys["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"].as_array()
    {
        if !allowed.iter().any(|a| a.as_str() == Some(target)) {
            return Err(DriverError::InvalidParameterValue(format!(
                "The BMC does not offer boot device {device} (BootSourceOverrideTarget {target}); it allows {}",
                allowed
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut boot = json!({
        "BootSourceOverrideTarget": target,
        "BootSourceOverrideEnabled": if persistent { "Continuous" } else { "Once" },
    });
    if sys["Boot"]["BootSourceOverrideMode"].is_string() {
        if let Some(mode) = node_boot_mode(ctx).as_deref().and_then(boot_mode_value) {
            boot["BootSourceOverrideMode"] = json!(mode);
        }
    }
    Ok(c.patch(&path, &json!({ "Boot": boot })).await)
}

pub struct RedfishManagement;

#[async_trait]
impl ManagementInterface for RedfishManagement {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
    fn supported_boot_devices(&self, _: &TaskContext<'_>) -> Vec<&'static str> {
        vec!["pxe", "disk", "cdrom", "bios"]
    }
    async fn set_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
        device: &str,
        persistent: bool,
    ) -> Result<(), DriverError> {
        if boot_target(device).is_none() {
            return Err(DriverError::InvalidParameterValue(format!(
                "Invalid boot device {device} specified."
            )));
        }
        let c = client(ctx)?;
        set_boot(ctx, &c, device, persistent).await
    }
    async fn get_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(Option<String>, Option<bool>), DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        let boot = &sys["Boot"];
        let device = boot["BootSourceOverrideTarget"]
            .as_str()
            .and_then(boot_device)
            .map(str::to_string);
        let persistent = match boot["BootSourceOverrideEnabled"].as_str() {
            Some("Continuous") => Some(true),
            Some("Once") => Some(false),
            _ => None,
        };
        Ok((device, persistent))
    }
    async fn inject_nmi(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let (path, sys) = system(&c).await?;
        reset(&c, &path, &sys, "Nmi").await
    }
    async fn set_boot_mode(
        &self,
        ctx: &mut TaskContext<'_>,
        mode: &str,
    ) -> Result<(), DriverError> {
        let value = boot_mode_value(mode).ok_or_else(|| {
            DriverError::InvalidParameterValue(format!(
                "Invalid boot mode {mode}; expected uefi or bios"
            ))
        })?;
        let c = client(ctx)?;
        let (path, sys) = system(&c).await?;
        // Ironic: a system that does not report a mode cannot have one set.
        if !sys["Boot"]["BootSourceOverrideMode"].is_string() {
            return Err(DriverError::Unsupported {
                driver: ctx.node.driver.clone(),
                kind: "setting the boot mode (the BMC reports no BootSourceOverrideMode)".into(),
            });
        }
        c.patch(&path, &json!({"Boot": {"BootSourceOverrideMode": value}}))
            .await
            .map_err(bmc_err)?;
        ctx.node.boot_mode = Some(mode.to_string());
        Ok(())
    }
    async fn set_secure_boot(
        &self,
        ctx: &mut TaskContext<'_>,
        on: bool,
    ) -> Result<(), DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        let Some(path) = sys["SecureBoot"]["@odata.id"].as_str() else {
            return Err(DriverError::Unsupported {
                driver: ctx.node.driver.clone(),
                kind: "secure boot (the BMC has no SecureBoot resource)".into(),
            });
        };
        c.patch(path, &json!({ "SecureBootEnable": on }))
            .await
            .map_err(bmc_err)?;
        ctx.node.secure_boot = Some(on);
        Ok(())
    }
}

/// The ISO to insert: instance_info boot_iso (a ramdisk instance) or deploy_iso, else
/// driver_info redfish_deploy_iso or deploy_iso.
pub fn iso_url(ctx: &TaskContext<'_>) -> Option<String> {
    let pick = |o: &crate::model::JsonObject, k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let n = &ctx.node;
    let iso = pick(&n.instance_info, "boot_iso")
        .or_else(|| pick(&n.instance_info, "deploy_iso"))
        .or_else(|| pick(&n.driver_info, "redfish_deploy_iso"))
        .or_else(|| pick(&n.driver_info, "deploy_iso"))?;
    // A bare name is a file under `[pxe] http_root`, served by the boot HTTP server.
    match (&ctx.urls.boot_http, iso.contains("://")) {
        (Some(base), false) => Some(format!("{base}/files/{}", iso.trim_start_matches('/'))),
        _ => Some(iso),
    }
}

fn missing_iso(ctx: &TaskContext<'_>) -> DriverError {
    DriverError::MissingParameterValue(format!(
        "Node {} has no ISO for the redfish-virtual-media boot interface: set driver_info redfish_deploy_iso (or instance_info deploy_iso or boot_iso) to the http(s) URL of a bootable ISO; ironbox does not build ISOs",
        ctx.node.uuid
    ))
}

/// Eject whatever is in the system's CD/DVD devices.
async fn eject_all(c: &Client) -> Result<(), DriverError> {
    let (_, sys) = system(c).await?;
    for (path, dev) in c.cd_devices(&sys).await.map_err(bmc_err)? {
        if dev["Inserted"].as_bool() == Some(true)
            || dev["Image"].as_str().is_some_and(|i| !i.is_empty())
        {
            c.eject_media(&path, &dev).await.map_err(bmc_err)?;
        }
    }
    Ok(())
}

/// Put `iso` into the system's first CD/DVD device (ejecting what is there).
async fn insert(c: &Client, iso: &str) -> Result<(), DriverError> {
    let (_, sys) = system(c).await?;
    let devices = c.cd_devices(&sys).await.map_err(bmc_err)?;
    let Some((path, dev)) = devices.first() else {
        return Err(DriverError::Failed(
            "the BMC has no CD/DVD virtual media device".into(),
        ));
    };
    if dev["Inserted"].as_bool() == Some(true) {
        c.eject_media(path, dev).await.map_err(bmc_err)?;
    }
    c.insert_media(path, dev, iso).await.map_err(bmc_err)
}

pub struct RedfishVirtualMediaBoot;

#[async_trait]
impl StepInterface for RedfishVirtualMediaBoot {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx)?;
        iso_url(ctx).map(|_| ()).ok_or_else(|| missing_iso(ctx))
    }
}

#[async_trait]
impl BootInterface for RedfishVirtualMediaBoot {
    /// Insert the ISO into the first CD/DVD device and boot from it once. The intent's
    /// kernel and ramdisk cannot be used: a BMC boots images, not files.
    async fn prepare_ramdisk(
        &self,
        ctx: &mut TaskContext<'_>,
        _intent: BootIntent,
    ) -> Result<(), DriverError> {
        let iso = iso_url(ctx).ok_or_else(|| missing_iso(ctx))?;
        let c = client(ctx)?;
        insert(&c, &iso).await?;
        set_boot(ctx, &c, "cdrom", false).await
    }
    async fn clean_up_ramdisk(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        eject_all(&c).await
    }
    /// Boot the instance: its boot_iso from CD when it has one, else the local disk.
    async fn prepare_instance(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        eject_all(&c).await?;
        let boot_iso = ctx
            .node
            .instance_info
            .get("boot_iso")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        match boot_iso {
            Some(iso) => {
                insert(&c, &iso).await?;
                set_boot(ctx, &c, "cdrom", true).await
            }
            None => set_boot(ctx, &c, "disk", true).await,
        }
    }
    async fn clean_up_instance(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        eject_all(&c).await
    }
}

/// cpu_arch from a Processor's InstructionSet, else its ProcessorArchitecture. (Ironic
/// reads only the architecture, so an ARM system becomes "arm"; the instruction set
/// tells aarch64 apart.)
pub fn cpu_arch(architecture: Option<&str>, instruction_set: Option<&str>) -> Option<&'static str> {
    let by_set = match instruction_set {
        Some("x86-64") => Some("x86_64"),
        Some("x86") => Some("i686"),
        Some("ARM-A64") => Some("aarch64"),
        Some("ARM-A32") => Some("arm"),
        Some("IA-64") => Some("ia64"),
        Some("MIPS64") => Some("mips64"),
        Some("MIPS32") => Some("mips"),
        Some("PowerISA") => Some("ppc64le"),
        _ => None,
    };
    by_set.or(match architecture {
        Some("x86") => Some("x86_64"),
        Some("IA-64") => Some("ia64"),
        Some("ARM") => Some("aarch64"),
        Some("MIPS") => Some("mips"),
        Some("Power") => Some("ppc64le"),
        _ => None,
    })
}

const GIB: u64 = 1 << 30;

/// Ironic's local_gb: of each source (SimpleStorage devices; Storage volumes, else
/// drives) the first disk of at least 4 GiB; the smaller of the two when both have one;
/// in GiB, minus 1 (a margin for partitioning), never below 0.
pub fn local_gb(simple: &[u64], storage: &[u64]) -> u64 {
    let first_big = |sizes: &[u64]| sizes.iter().copied().find(|s| *s >= 4 * GIB).unwrap_or(0);
    let (a, b) = (first_big(simple), first_big(storage));
    let bytes = if a > 0 && b > 0 { a.min(b) } else { a.max(b) };
    (bytes / GIB).saturating_sub(1)
}

/// `capabilities` ("k:v,k2:v2") with `key` set to `value` unless already present.
pub fn with_capability(caps: &str, key: &str, value: &str) -> String {
    let has = caps
        .split(',')
        .filter_map(|kv| kv.split_once(':'))
        .any(|(k, _)| k.trim() == key);
    match (caps.trim().is_empty(), has) {
        (_, true) => caps.to_string(),
        (true, false) => format!("{key}:{value}"),
        (false, false) => format!("{caps},{key}:{value}"),
    }
}

/// At most this many members of any collection are read (a hostile BMC cannot make an
/// inspection run forever).
const MAX_MEMBERS: usize = 64;

fn sizes_of(v: &Value) -> Option<u64> {
    v["CapacityBytes"].as_u64()
}

async fn collection_members(c: &Client, link: &Value) -> Vec<Value> {
    let Some(path) = link["@odata.id"].as_str() else {
        return vec![];
    };
    let Ok(ids) = c.members(path).await else {
        return vec![];
    };
    let mut out = vec![];
    for id in ids.into_iter().take(MAX_MEMBERS) {
        if let Ok(v) = c.get(&id).await {
            out.push(v);
        }
    }
    out
}

pub struct RedfishInspect;

#[async_trait]
impl StepInterface for RedfishInspect {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
}

#[async_trait]
impl InspectInterface for RedfishInspect {
    /// Out-of-band inventory into node properties (memory_mb, cpus, cpu_arch, local_gb,
    /// boot_mode capability) and the enabled NICs' MACs for the conductor to make ports.
    async fn inspect_hardware(&self, ctx: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        let c = client(ctx)?;
        let (_, sys) = system(&c).await?;
        let mut props = ctx.node.properties.clone();
        // An inventory in the agent's shape, as Ironic's redfish inspection stores it.
        let mut inventory = serde_json::Map::new();
        if let Some(gib) = sys["MemorySummary"]["TotalSystemMemoryGiB"].as_f64() {
            if gib > 0.0 {
                let mb = (gib * 1024.0).round() as u64;
                props.insert("memory_mb".into(), json!(mb));
                inventory.insert("memory".into(), json!({ "physical_mb": mb }));
            }
        }
        let processors = collection_members(&c, &sys["Processors"]).await;
        let count = sys["ProcessorSummary"]["Count"]
            .as_u64()
            .filter(|n| *n > 0)
            .or((!processors.is_empty()).then_some(processors.len() as u64));
        let mut cpu = serde_json::Map::new();
        if let Some(n) = count {
            props.insert("cpus".into(), json!(n));
            cpu.insert("count".into(), json!(n));
        }
        if let Some(p) = processors.first() {
            if let Some(arch) = cpu_arch(
                p["ProcessorArchitecture"].as_str(),
                p["InstructionSet"].as_str(),
            ) {
                props.insert("cpu_arch".into(), json!(arch));
                cpu.insert("architecture".into(), json!(arch));
            }
            if let Some(m) = p["Model"].as_str() {
                cpu.insert("model_name".into(), json!(m));
            }
            if let Some(f) = p["MaxSpeedMHz"].as_u64() {
                cpu.insert("frequency".into(), json!(f));
            }
        }
        if !cpu.is_empty() {
            inventory.insert("cpu".into(), Value::Object(cpu));
        }
        let (mut simple, mut disks) = (vec![], vec![]);
        for s in collection_members(&c, &sys["SimpleStorage"]).await {
            for d in s["Devices"].as_array().into_iter().flatten() {
                if let Some(size) = sizes_of(d) {
                    simple.push(size);
                    disks.push(json!({"name": d["Name"], "size": size}));
                }
            }
        }
        let (mut volumes, mut drives) = (vec![], vec![]);
        for s in collection_members(&c, &sys["Storage"]).await {
            for v in collection_members(&c, &s["Volumes"]).await {
                volumes.extend(sizes_of(&v));
            }
            for d in redfish::member_links(&s["Drives"])
                .into_iter()
                .take(MAX_MEMBERS)
            {
                if let Ok(v) = c.get(&d).await {
                    if let Some(size) = sizes_of(&v) {
                        drives.push(size);
                        disks.push(json!({"name": v["Name"], "size": size}));
                    }
                }
            }
        }
        inventory.insert("disks".into(), json!(disks));
        simple.sort_unstable();
        let mut storage = if volumes.is_empty() { drives } else { volumes };
        storage.sort_unstable();
        props.insert(
            "local_gb".into(),
            json!(local_gb(&simple, &storage).to_string()),
        );
        let mode = match sys["Boot"]["BootSourceOverrideMode"].as_str() {
            Some("UEFI") => Some("uefi"),
            Some("Legacy") => Some("bios"),
            _ => None,
        };
        if let Some(m) = mode {
            let caps = props
                .get("capabilities")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            props.insert(
                "capabilities".into(),
                json!(with_capability(&caps, "boot_mode", m)),
            );
            inventory.insert("boot".into(), json!({ "current_boot_mode": m }));
        }
        let missing: Vec<&str> = ["memory_mb", "cpu_arch", "local_gb"]
            .into_iter()
            .filter(|k| !props.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Err(DriverError::Failed(format!(
                "Failed to discover the following properties: {} on node {}",
                missing.join(", "),
                ctx.node.uuid
            )));
        }
        let mut macs = vec![];
        for nic in collection_members(&c, &sys["EthernetInterfaces"]).await {
            let enabled = nic["Status"]["State"]
                .as_str()
                .map_or(true, |s| s == "Enabled");
            let mac = nic["MACAddress"]
                .as_str()
                .or(nic["PermanentMACAddress"].as_str())
                .filter(|m| !m.is_empty());
            if let (true, Some(mac)) = (enabled, mac) {
                macs.push(mac.to_lowercase());
            }
        }
        inventory.insert(
            "interfaces".into(),
            json!(macs
                .iter()
                .map(|m| json!({ "mac_address": m }))
                .collect::<Vec<_>>()),
        );
        let mut vendor = serde_json::Map::new();
        for (key, field) in [
            ("product_name", "Model"),
            ("serial_number", "SerialNumber"),
            ("manufacturer", "Manufacturer"),
        ] {
            if let Some(v) = sys[field].as_str().filter(|v| !v.is_empty()) {
                vendor.insert(key.into(), json!(v));
            }
        }
        if !vendor.is_empty() {
            inventory.insert("system_vendor".into(), Value::Object(vendor));
        }
        ctx.node.properties = props;
        ctx.discovered = Discovered {
            inventory: Some(Value::Object(inventory)),
            plugin_data: None,
            macs,
        };
        Ok(Progress::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_devices_map_both_ways() {
        for d in ["pxe", "disk", "cdrom", "bios"] {
            assert_eq!(boot_device(boot_target(d).unwrap()), Some(d));
        }
        assert_eq!(boot_target("safe"), None);
        assert_eq!(boot_target("floppy"), None);
        assert_eq!(boot_device("UefiHttp"), None);
        assert_eq!(boot_mode_value("uefi"), Some("UEFI"));
        assert_eq!(boot_mode_value("bios"), Some("Legacy"));
        assert_eq!(boot_mode_value("other"), None);
    }

    #[test]
    fn reset_types_come_from_what_the_system_allows() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(choose_reset("On", &[]).unwrap(), "On");
        assert_eq!(
            choose_reset("On", &a(&["ForceOn", "ForceOff"])).unwrap(),
            "ForceOn"
        );
        assert_eq!(
            choose_reset("ForceRestart", &a(&["PowerCycle"])).unwrap(),
            "PowerCycle"
        );
        assert_eq!(choose_reset("Nmi", &a(&["On", "Nmi"])).unwrap(), "Nmi");
        let e = choose_reset("Nmi", &a(&["On", "ForceOff"])).unwrap_err();
        assert!(
            e.to_string().contains("does not allow ResetType Nmi"),
            "{e}"
        );
        assert!(choose_reset("Bogus", &[]).is_err());
    }

    #[test]
    fn power_states_and_inventory_helpers() {
        assert!(power_of(&json!({"PowerState": "PoweringOn"})).unwrap());
        assert!(!power_of(&json!({"PowerState": "Off"})).unwrap());
        assert!(power_of(&json!({})).is_err());
        assert_eq!(cpu_arch(Some("x86"), Some("x86-64")), Some("x86_64"));
        assert_eq!(cpu_arch(Some("ARM"), None), Some("aarch64"));
        assert_eq!(cpu_arch(None, None), None);
        // 20 GiB and 2 GiB simple storage, no Storage: the first >= 4 GiB, minus 1.
        assert_eq!(local_gb(&[2 * GIB, 20 * GIB], &[]), 19);
        assert_eq!(local_gb(&[20 * GIB], &[10 * GIB]), 9);
        assert_eq!(local_gb(&[GIB], &[]), 0);
        assert_eq!(with_capability("", "boot_mode", "uefi"), "boot_mode:uefi");
        assert_eq!(
            with_capability("a:b", "boot_mode", "uefi"),
            "a:b,boot_mode:uefi"
        );
        assert_eq!(
            with_capability("boot_mode:bios", "boot_mode", "uefi"),
            "boot_mode:bios"
        );
    }
}
