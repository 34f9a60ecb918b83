//! The `redfish` power interface (Ironic's redfish/power.py): Reset actions chosen from
//! what the system allows, then a wait until it reports the power state asked for.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::management::restore_boot;
use super::*;
use crate::drivers::poll;
use crate::model::states::{POWER_OFF, POWER_ON};

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
    system
        .pointer("/Actions/#ComputerSystem.Reset/ResetType@Redfish.AllowableValues")
        .and_then(Value::as_array)
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

pub(super) async fn reset(
    c: &Client,
    path: &str,
    sys: &Value,
    wanted: &str,
) -> Result<(), DriverError> {
    let rt = choose_reset(wanted, &allowed_resets(sys))?;
    crate::metrics::bmc_timed("redfish", "reset", c.reset(path, sys, rt))
        .await
        .map_err(bmc_err)
}

/// Poll until the system reports `on`, or fail after `within`.
async fn wait_for(c: &Client, on: bool, within: Duration) -> Result<(), DriverError> {
    poll::wait_for_power(on, within, || async move {
        let (_, sys) = system(c).await?;
        power_of(&sys)
    })
    .await
}

fn within(ctx: &TaskContext<'_>, timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or(ctx.config.conductor.power_state_change_timeout)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn power_states_map_to_on_and_off() {
        assert!(power_of(&json!({"PowerState": "PoweringOn"})).unwrap());
        assert!(!power_of(&json!({"PowerState": "Off"})).unwrap());
        assert!(power_of(&json!({})).is_err());
    }
}
