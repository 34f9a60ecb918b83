//! The `ipmitool` power and management interfaces (Ironic's names, the ones clients send),
//! implemented natively over RMCP+ by `bmc::ipmi` — no ipmitool binary. driver_info keys
//! as Ironic's: ipmi_address, ipmi_port, ipmi_username, ipmi_password, ipmi_priv_level,
//! ipmi_cipher_suite, ipmi_bridging, ipmi_protocol_version.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::*;
use crate::bmc::ipmi::{self, Chassis, IpmiError, Target};
use crate::model::states::{POWER_OFF, POWER_ON};

pub const PROPERTIES: &[(&str, &str)] = &[
    ("ipmi_address", "IP address or hostname of the node's BMC. Required."),
    ("ipmi_port", "remote IPMI RMCP port (default 623). Optional."),
    ("ipmi_username", "username; default is NULL user. Optional."),
    ("ipmi_password", "password. Optional."),
    ("ipmi_priv_level", "privilege level; default is ADMINISTRATOR. One of ADMINISTRATOR, CALLBACK, OPERATOR, USER. Optional."),
    ("ipmi_cipher_suite", "IPMI cipher suite; ironbox speaks suite 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128). Optional."),
    ("ipmi_bridging", "bridging type; only \"no\" is supported. Optional."),
    ("ipmi_protocol_version", "the version of the IPMI protocol; only \"2.0\" is supported. Optional."),
    ("ipmi_terminal_port", "node's TCP port for the serial console (ipmitool-socat); default is a free port from [console] port_range. Optional."),
];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parse and check driver_info into a BMC target (Ironic's messages where it has them).
pub fn target(ctx: &TaskContext<'_>) -> Result<Target, DriverError> {
    let di = &ctx.node.driver_info;
    let get = |k: &str| di.get(k).and_then(text).filter(|s| !s.is_empty());
    let host = get("ipmi_address").ok_or_else(|| {
        DriverError::MissingParameterValue(
            "Missing the following IPMI credentials in node's driver_info: ['ipmi_address']."
                .into(),
        )
    })?;
    let port = match get("ipmi_port") {
        None => 623,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            DriverError::InvalidParameterValue(format!("IPMI port is not an integer: {p}"))
        })?,
    };
    let privilege = match get("ipmi_priv_level").as_deref().unwrap_or("ADMINISTRATOR") {
        "ADMINISTRATOR" => 4,
        "OPERATOR" => 3,
        "USER" => 2,
        "CALLBACK" => 1,
        other => return Err(DriverError::InvalidParameterValue(format!(
            "Invalid privilege level value:{other}, the valid value can be one of ['ADMINISTRATOR', 'CALLBACK', 'OPERATOR', 'USER']"))),
    };
    if let Some(cs) = get("ipmi_cipher_suite") {
        if cs != "3" {
            return Err(DriverError::InvalidParameterValue(format!(
                "Unsupported IPMI cipher suite {cs}: ironbox's IPMI client supports cipher suite 3 (RAKP-HMAC-SHA1 / HMAC-SHA1-96 / AES-CBC-128)")));
        }
    }
    if let Some(b) = get("ipmi_bridging") {
        if b != "no" {
            return Err(DriverError::InvalidParameterValue(format!(
                "ipmi_bridging \"{b}\" is not supported; only \"no\""
            )));
        }
    }
    if let Some(v) = get("ipmi_protocol_version") {
        if v != "2.0" {
            return Err(DriverError::InvalidParameterValue(format!(
                "Invalid IPMI protocol version value {v}, the valid value can be one of ['2.0']"
            )));
        }
    }
    let c = &ctx.config.ipmi;
    Ok(Target {
        host,
        port,
        privilege,
        username: get("ipmi_username"),
        password: get("ipmi_password"),
        attempt_timeout: c.command_timeout_ms,
        total_timeout: c.command_retry_timeout,
    })
}

fn bmc_err(e: IpmiError) -> DriverError {
    match e {
        IpmiError::Timeout { .. } => DriverError::Timeout(e.to_string()),
        other => DriverError::client(other),
    }
}

/// Whether the node boots in UEFI mode (boot mode field, else capabilities).
fn uefi(ctx: &TaskContext<'_>) -> bool {
    ctx.node.boot_mode.as_deref() == Some("uefi")
        || super::boot_mode::capability(ctx.node.properties.get("capabilities"), "boot_mode")
            .as_deref()
            == Some("uefi")
}

/// The BMC's commands, each timed into `ironbox_bmc_command_*{driver="ipmi"}`.
mod timed {
    use super::{ipmi, Chassis, IpmiError, Target};
    use crate::metrics::bmc_timed;

    pub async fn power_status(t: &Target) -> Result<bool, IpmiError> {
        bmc_timed("ipmi", "get_power_state", ipmi::power_status(t)).await
    }

    pub async fn chassis_control(t: &Target, action: Chassis) -> Result<(), IpmiError> {
        let command = match action {
            Chassis::PowerDown => "power_off",
            Chassis::PowerUp => "power_on",
            Chassis::PowerCycle => "power_cycle",
            Chassis::HardReset => "hard_reset",
            Chassis::DiagnosticInterrupt => "inject_nmi",
            Chassis::SoftShutdown => "soft_power_off",
        };
        bmc_timed("ipmi", command, ipmi::chassis_control(t, action)).await
    }

    pub async fn set_boot_device(
        t: &Target,
        device: &str,
        persistent: bool,
        uefi: bool,
    ) -> Result<(), IpmiError> {
        let set = ipmi::set_boot_device(t, device, persistent, uefi);
        bmc_timed("ipmi", "set_boot_device", set).await
    }

    pub async fn get_boot_device(t: &Target) -> Result<(Option<String>, Option<bool>), IpmiError> {
        bmc_timed("ipmi", "get_boot_device", ipmi::get_boot_device(t)).await
    }
}

pub struct IpmiPower;

async fn wait_for(t: &Target, on: bool, within: Duration) -> Result<(), DriverError> {
    super::poll::wait_for_power(on, within, || async move {
        timed::power_status(t).await.map_err(bmc_err)
    })
    .await
}

#[async_trait]
impl PowerInterface for IpmiPower {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        target(ctx).map(|_| ())
    }
    async fn get_power_state(&self, ctx: &mut TaskContext<'_>) -> Result<String, DriverError> {
        let t = target(ctx)?;
        Ok(if timed::power_status(&t).await.map_err(bmc_err)? {
            POWER_ON
        } else {
            POWER_OFF
        }
        .into())
    }
    async fn set_power_state(
        &self,
        ctx: &mut TaskContext<'_>,
        target_state: &str,
        timeout: Option<Duration>,
    ) -> Result<(), DriverError> {
        let t = target(ctx)?;
        let within = timeout.unwrap_or(ctx.config.conductor.power_state_change_timeout);
        let (action, on) = match target_state {
            POWER_ON => (Chassis::PowerUp, true),
            "soft power off" => (Chassis::SoftShutdown, false),
            _ => (Chassis::PowerDown, false),
        };
        if timed::power_status(&t).await.map_err(bmc_err)? == on {
            ctx.node.power_state = Some(if on { POWER_ON } else { POWER_OFF }.into());
            return Ok(());
        }
        timed::chassis_control(&t, action).await.map_err(bmc_err)?;
        wait_for(&t, on, within).await?;
        ctx.node.power_state = Some(if on { POWER_ON } else { POWER_OFF }.into());
        Ok(())
    }
    /// Ironic's reboot: power off (soft or hard) and wait, then power on and wait.
    async fn reboot(
        &self,
        ctx: &mut TaskContext<'_>,
        soft: bool,
        timeout: Option<Duration>,
    ) -> Result<(), DriverError> {
        let t = target(ctx)?;
        let within = timeout.unwrap_or(ctx.config.conductor.power_state_change_timeout);
        if timed::power_status(&t).await.map_err(bmc_err)? {
            timed::chassis_control(
                &t,
                if soft {
                    Chassis::SoftShutdown
                } else {
                    Chassis::PowerDown
                },
            )
            .await
            .map_err(bmc_err)?;
            wait_for(&t, false, within).await?;
        }
        timed::chassis_control(&t, Chassis::PowerUp)
            .await
            .map_err(bmc_err)?;
        wait_for(&t, true, within).await?;
        ctx.node.power_state = Some(POWER_ON.into());
        Ok(())
    }
}

pub struct IpmiManagement;

#[async_trait]
impl ManagementInterface for IpmiManagement {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        target(ctx).map(|_| ())
    }
    fn supported_boot_devices(&self, _: &TaskContext<'_>) -> Vec<&'static str> {
        vec!["pxe", "disk", "cdrom", "bios", "safe"]
    }
    async fn set_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
        device: &str,
        persistent: bool,
    ) -> Result<(), DriverError> {
        if !self.supported_boot_devices(ctx).contains(&device) {
            return Err(DriverError::InvalidParameterValue(format!(
                "Invalid boot device {device} specified."
            )));
        }
        let persistent = super::node_options::boot_device_persistence(ctx.node, persistent)?;
        let t = target(ctx)?;
        timed::set_boot_device(&t, device, persistent, uefi(ctx))
            .await
            .map_err(bmc_err)
    }
    async fn get_boot_device(
        &self,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(Option<String>, Option<bool>), DriverError> {
        let t = target(ctx)?;
        timed::get_boot_device(&t).await.map_err(bmc_err)
    }
    async fn inject_nmi(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let t = target(ctx)?;
        timed::chassis_control(&t, Chassis::DiagnosticInterrupt)
            .await
            .map_err(bmc_err)
    }
    async fn set_boot_mode(&self, ctx: &mut TaskContext<'_>, _: &str) -> Result<(), DriverError> {
        Err(DriverError::Unsupported {
            driver: ctx.node.driver.clone(),
            kind: "setting the boot mode".into(),
        })
    }
    async fn set_secure_boot(&self, ctx: &mut TaskContext<'_>, _: bool) -> Result<(), DriverError> {
        Err(DriverError::Unsupported {
            driver: ctx.node.driver.clone(),
            kind: "secure boot".into(),
        })
    }
}
