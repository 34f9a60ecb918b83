//! The `redfish` firmware interface (Ironic's redfish/firmware.py): components read from
//! the system (BiosVersion), its manager (FirmwareVersion) and the chassis' network
//! adapters (FirmwarePackageVersion); the `firmware.update` step, one component at a time:
//! UpdateService.SimpleUpdate, a reset of the system for BIOS and NIC firmware (a BMC
//! update restarts only the BMC), the task followed until it ends, then the components
//! read again.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::*;
use crate::bmc::redfish::{RedfishError, TaskPoll};
use crate::drivers::poll;
use crate::model::firmware::{
    parse_update_settings, Component, UpdateSetting, BIOS, BMC, NIC_PREFIX,
};

pub struct RedfishFirmware;

fn text_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The NIC components of network adapters (`nic:` + serial number, else Id), one per
/// controller that reports a firmware package version.
pub fn nic_components(adapters: &[Value]) -> Vec<Component> {
    let mut out = vec![];
    for a in adapters {
        let Some(id) = text_of(a, "SerialNumber").or_else(|| text_of(a, "Id")) else {
            continue;
        };
        for ctl in field(a, "Controllers").as_array().into_iter().flatten() {
            let Some(version) = text_of(ctl, "FirmwarePackageVersion") else {
                continue;
            };
            out.push(Component {
                component: format!("{NIC_PREFIX}{id}"),
                current_version: version,
                vendor: text_of(a, "Manufacturer"),
                model: text_of(a, "Model"),
                serial_number: text_of(a, "SerialNumber"),
            });
        }
    }
    out
}

/// Whether a finished task succeeded (Completed with OK or Warning health, or none).
fn succeeded(state: &str, status: Option<&str>) -> bool {
    state == "Completed" && matches!(status, None | Some("OK") | Some("Warning"))
}

async fn read_components(c: &Client, node: &str) -> Result<Vec<Component>, DriverError> {
    let (_, sys) = system(c).await?;
    let mut out = vec![];
    if let Some(v) = text_of(&sys, "BiosVersion") {
        out.push(Component {
            component: BIOS.into(),
            current_version: v,
            ..Default::default()
        });
    }
    match c.manager(&sys).await {
        Ok(Some((_, m))) => {
            if let Some(v) = text_of(&m, "FirmwareVersion") {
                out.push(Component {
                    component: BMC.into(),
                    current_version: v,
                    ..Default::default()
                });
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(node, error = %e, "no manager to read the BMC firmware from"),
    }
    match c.network_adapters(&sys).await {
        Ok(a) => out.extend(nic_components(&a)),
        Err(e) => tracing::debug!(node, error = %e, "no network adapters to read firmware from"),
    }
    if out.is_empty() {
        return Err(DriverError::Failed(format!(
            "Cannot retrieve firmware for node {node}: no supported components"
        )));
    }
    Ok(out)
}

impl RedfishFirmware {
    async fn update_one(
        &self,
        ctx: &mut TaskContext<'_>,
        c: &Client,
        u: &UpdateSetting,
        deadline: Instant,
    ) -> Result<(), DriverError> {
        let node = ctx.node.uuid.clone();
        // Like Ironic: name the system as the target only when the BMC has several.
        let systems = c
            .members(&format!("{}Systems", c.endpoint().root))
            .await
            .map_err(bmc_err)?;
        let targets = if systems.len() > 1 {
            Some(vec![c.system_path().await.map_err(bmc_err)?])
        } else {
            None
        };
        let monitor = c.simple_update(&u.url, targets).await.map_err(|e| {
            DriverError::Failed(format!(
                "Firmware update of {} from {} refused by the BMC of node {node}: {e}",
                u.component,
                crate::model::secrets::mask_text(&u.url)
            ))
        })?;
        // BIOS and NIC firmware is applied while the system starts; a BMC update restarts
        // the BMC alone.
        if u.component != BMC {
            RedfishPower.reboot(ctx, false, None).await?;
        }
        if let Some(monitor) = monitor {
            self.follow(c, ctx, u, &monitor, deadline).await?;
        }
        if let Some(secs) = u.wait {
            tokio::time::sleep(Duration::from_secs(secs)).await;
        }
        Ok(())
    }

    /// Poll the task until it ends; a BMC that stops answering (it may be restarting
    /// with new firmware) is asked again until the deadline.
    async fn follow(
        &self,
        c: &Client,
        ctx: &TaskContext<'_>,
        u: &UpdateSetting,
        monitor: &str,
        deadline: Instant,
    ) -> Result<(), DriverError> {
        let node = ctx.node.uuid.clone();
        let url = crate::model::secrets::mask_text(&u.url).to_string();
        let every = ctx.config.redfish.firmware_update_status_interval;
        let outcome = poll::poll_until(deadline, every, || async move {
            match c.task_poll(monitor).await {
                Ok(TaskPoll::Running) => Ok(None),
                Ok(TaskPoll::Done {
                    state,
                    status,
                    messages,
                }) => Ok(Some((state, status, messages))),
                Err(
                    RedfishError::Unreachable { .. }
                    | RedfishError::Timeout { .. }
                    | RedfishError::Http { status: 503, .. },
                ) => Ok(None),
                // The BMC dropped the task before we saw its end: Ironic assumes success.
                Err(RedfishError::Http { status: 404, .. }) => {
                    Ok(Some(("Completed".into(), None, vec![])))
                }
                Err(e) => Err(bmc_err(e)),
            }
        })
        .await?;
        match outcome {
            Some((state, status, messages)) if succeeded(&state, status.as_deref()) => {
                tracing::info!(node = %node, component = %u.component, messages = %messages.join(", "), "firmware update succeeded");
                Ok(())
            }
            Some((state, status, messages)) => Err(DriverError::Failed(format!(
                "Firmware update failed for node {node}, firmware {url}. Error: task {state} ({}): {}",
                status.as_deref().unwrap_or("no status"),
                messages.join(",  ")
            ))),
            None => Err(DriverError::Timeout(format!(
                "Firmware update of {} on node {node} (firmware {url}) did not finish within {} s",
                u.component,
                ctx.config.redfish.firmware_update_overall_timeout.as_secs()
            ))),
        }
    }
}

#[async_trait]
impl StepInterface for RedfishFirmware {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx).map(|_| ())
    }
    fn clean_steps(&self) -> Vec<Step> {
        vec![Step {
            interface: "firmware".into(),
            step: "update".into(),
            args: Default::default(),
            priority: 0,
            abortable: false,
        }]
    }
    fn deploy_steps(&self) -> Vec<Step> {
        self.clean_steps()
    }
    async fn cache(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        ctx.firmware_update = Some(read_components(&c, &ctx.node.uuid).await?);
        Ok(())
    }
    async fn execute_step(
        &self,
        ctx: &mut TaskContext<'_>,
        s: &Step,
    ) -> Result<Progress, DriverError> {
        if s.step != "update" {
            return Err(DriverError::InvalidParameterValue(format!(
                "Unknown step firmware.{}",
                s.step
            )));
        }
        let settings = parse_update_settings(s.args.get("settings"))
            .map_err(DriverError::InvalidParameterValue)?;
        let c = client(ctx)?;
        let deadline = Instant::now() + ctx.config.redfish.firmware_update_overall_timeout;
        for u in &settings {
            self.update_one(ctx, &c, u, deadline).await?;
        }
        // What is installed now (Ironic refreshes the components after the last update).
        match read_components(&c, &ctx.node.uuid).await {
            Ok(list) => ctx.firmware_update = Some(list),
            Err(e) => {
                tracing::warn!(node = %ctx.node.uuid, error = %e, "could not read firmware components after the update")
            }
        }
        Ok(Progress::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nics_are_named_by_serial_else_id() {
        let a = [
            json!({"Id": "NIC1", "SerialNumber": "SN9", "Manufacturer": "Acme",
                   "Controllers": [{"FirmwarePackageVersion": "7.1"}]}),
            json!({"Id": "NIC2", "Controllers": [{"FirmwarePackageVersion": "1.0"}, {}]}),
            json!({"Id": "NIC3"}),
        ];
        let c = nic_components(&a);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].component, "nic:SN9");
        assert_eq!(c[0].vendor.as_deref(), Some("Acme"));
        assert_eq!(
            (c[1].component.as_str(), c[1].current_version.as_str()),
            ("nic:NIC2", "1.0")
        );
    }

    #[test]
    fn only_completed_healthy_tasks_succeed() {
        assert!(succeeded("Completed", Some("OK")));
        assert!(succeeded("Completed", Some("Warning")));
        assert!(succeeded("Completed", None));
        assert!(!succeeded("Completed", Some("Critical")));
        assert!(!succeeded("Exception", Some("OK")));
    }
}
