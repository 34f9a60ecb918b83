//! Power and management actions: power on/off/reboot (soft too), boot device, NMI, boot
//! mode, secure boot, console, RAID target, vendor passthru. Power changes run on a worker;
//! reads and boot device changes answer synchronously, as Ironic's do.

use std::time::Duration;

use serde_json::Value;

use super::task::{NodeTask, Wait};
use super::{Conductor, ConductorError as E, Result};
use crate::drivers::DriverError;
use crate::model::dii::forget_agent;
use crate::model::history::{SEVERITY_ERROR, SEVERITY_INFO};
use crate::model::node::Node;
use crate::model::states::*;

pub(super) fn driver_err(e: DriverError) -> E {
    match e {
        DriverError::InvalidParameterValue(m) | DriverError::MissingParameterValue(m) => {
            E::InvalidParameterValue(m)
        }
        DriverError::Unsupported { driver, kind } => E::Unsupported { driver, what: kind },
        other => E::DriverError(other.to_string()),
    }
}

impl Conductor {
    /// `PUT /states/power`: `target` is one of Ironic's power targets (checked by the API).
    pub async fn node_set_power_state(
        &self,
        node: Node,
        target: &str,
        timeout: Option<u64>,
    ) -> Result<()> {
        if matches!(node.provision_state.as_str(), CLEANING | CLEAN_WAIT) {
            return Err(E::InvalidStateRequested {
                action: target.into(),
                node: node.uuid.clone(),
                state: node.provision_state.clone(),
            });
        }
        if node.disable_power_off && matches!(target, "power off" | "soft power off") {
            return Err(E::InvalidState(format!(
                "Node {} has disable_power_off enabled; it cannot be powered off",
                node.uuid
            )));
        }
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        let slot = match self.workers.reserve() {
            Ok(s) => s,
            Err(e) => {
                task.release().await;
                return Err(e);
            }
        };
        {
            let (driver, ctx) = task.ctx();
            if let Err(e) = driver.power.validate(&ctx).await {
                task.release().await;
                return Err(driver_err(e));
            }
        }
        task.node.target_power_state = Some(
            if matches!(target, "power off" | "soft power off") {
                POWER_OFF
            } else {
                POWER_ON
            }
            .into(),
        );
        // Power actions clear an old error unless the node is in a failed state.
        if !task.node.provision_state.ends_with("failed") {
            task.node.last_error = None;
        }
        task.save().await?;
        let target = target.to_string();
        self.workers
            .run(slot, async move { run_power(task, target, timeout).await });
        Ok(())
    }

    pub async fn node_get_boot_device(&self, node: Node) -> Result<(Option<String>, Option<bool>)> {
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        let (driver, mut ctx) = task.ctx();
        let r = driver
            .management
            .get_boot_device(&mut ctx)
            .await
            .map_err(driver_err);
        task.release().await;
        r
    }

    pub async fn node_supported_boot_devices(&self, node: Node) -> Result<Vec<&'static str>> {
        let mut n = node;
        let driver = self.driver_for(&n)?;
        let ports = self.ports_of(&n.uuid).await?;
        let ctx = crate::drivers::TaskContext::new(&mut n, &ports, &self.config);
        Ok(driver.management.supported_boot_devices(&ctx))
    }

    /// Run a synchronous management call under the node's lock and save what it changed.
    async fn with_management<T: Send>(
        &self,
        node: &Node,
        f: impl for<'a> FnOnce(
            crate::drivers::Driver,
            crate::drivers::TaskContext<'a>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = std::result::Result<T, DriverError>> + Send + 'a>,
        >,
    ) -> Result<T> {
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        let out = {
            let (driver, ctx) = task.ctx();
            f(driver, ctx).await
        };
        let r = match out {
            Ok(v) => task.save().await.map(|_| v),
            Err(e) => Err(driver_err(e)),
        };
        task.release().await;
        r
    }

    pub async fn node_set_boot_device(
        &self,
        node: Node,
        device: String,
        persistent: bool,
    ) -> Result<()> {
        if !self
            .node_supported_boot_devices(node.clone())
            .await?
            .contains(&device.as_str())
        {
            return Err(E::InvalidParameterValue(format!(
                "Invalid boot device {device} specified."
            )));
        }
        self.with_management(&node, move |d, mut ctx| {
            Box::pin(async move {
                d.management
                    .set_boot_device(&mut ctx, &device, persistent)
                    .await
            })
        })
        .await
    }

    pub async fn node_inject_nmi(&self, node: Node) -> Result<()> {
        self.with_management(&node, |d, mut ctx| {
            Box::pin(async move { d.management.inject_nmi(&mut ctx).await })
        })
        .await
    }

    pub async fn node_set_boot_mode(&self, node: Node, mode: String) -> Result<()> {
        self.require_stable(&node)?;
        self.with_management(&node, move |d, mut ctx| {
            Box::pin(async move { d.management.set_boot_mode(&mut ctx, &mode).await })
        })
        .await
    }

    pub async fn node_set_secure_boot(&self, node: Node, on: bool) -> Result<()> {
        self.require_stable(&node)?;
        self.with_management(&node, move |d, mut ctx| {
            Box::pin(async move { d.management.set_secure_boot(&mut ctx, on).await })
        })
        .await
    }

    fn require_stable(&self, node: &Node) -> Result<()> {
        if !super::fsm::STABLE.contains(&node.provision_state.as_str())
            && !node.provision_state.ends_with("failed")
        {
            return Err(E::InvalidState(format!(
                "Node {} is in state {}; the boot mode can only change in a stable state",
                node.uuid, node.provision_state
            )));
        }
        Ok(())
    }

    pub async fn node_set_target_raid(
        &self,
        node: Node,
        target: crate::model::JsonObject,
    ) -> Result<()> {
        if node
            .interfaces
            .get("raid")
            .is_some_and(|r| r.starts_with("no-"))
        {
            return Err(E::Unsupported {
                driver: node.driver.clone(),
                what: "raid".into(),
            });
        }
        // As Ironic: an empty configuration clears the target; anything else must match
        // the RAID schema.
        if !target.is_empty() {
            crate::model::raid::validate(&target).map_err(E::InvalidParameterValue)?;
        }
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        task.node.target_raid_config = target;
        let r = task.save().await;
        task.release().await;
        r
    }

    pub fn node_vendor_methods(&self, node: &Node) -> Result<Vec<crate::drivers::VendorMethod>> {
        Ok(self.driver_for(node)?.vendor.methods())
    }

    /// Call a vendor method; (async?, result).
    pub async fn node_vendor_passthru(
        &self,
        node: Node,
        method: String,
        http_method: String,
        args: Value,
    ) -> Result<(bool, Value)> {
        let methods = self.node_vendor_methods(&node)?;
        let m = methods.iter().find(|m| m.name == method).ok_or_else(|| {
            E::InvalidParameterValue(format!(
                "Unsupported method ({method}) passed through to vendor extension."
            ))
        })?;
        if !m.http_methods.contains(&http_method.as_str()) {
            return Err(E::InvalidParameterValue(format!(
                "The method {method} does not support HTTP {http_method}"
            )));
        }
        let is_async = m.is_async;
        let mut task = self.acquire(&node.uuid, Wait::Configured).await?;
        if is_async {
            let job = async move {
                let out = {
                    let (driver, mut ctx) = task.ctx();
                    driver.vendor.call(&mut ctx, &method, args).await
                };
                if let Err(e) = out {
                    task.node.last_error = Some(e.to_string());
                }
                let _ = task.save().await;
                task.release().await;
            };
            self.workers.spawn(job)?;
            return Ok((true, Value::Null));
        }
        let out = {
            let (driver, mut ctx) = task.ctx();
            driver.vendor.call(&mut ctx, &method, args).await
        };
        task.release().await;
        out.map(|v| (false, v)).map_err(driver_err)
    }
}

/// The background part of a power change.
async fn run_power(mut task: NodeTask, target: String, timeout: Option<u64>) {
    let c = task.conductor.config.conductor.clone();
    let soft = target.starts_with("soft");
    let limit = timeout.map_or(
        if soft {
            c.soft_power_off_timeout
        } else {
            c.power_state_change_timeout
        },
        Duration::from_secs,
    );
    let result = {
        let (driver, mut ctx) = task.ctx();
        let call = async {
            match target.as_str() {
                "rebooting" => driver.power.reboot(&mut ctx, false, Some(limit)).await,
                "soft rebooting" => driver.power.reboot(&mut ctx, true, Some(limit)).await,
                t => driver.power.set_power_state(&mut ctx, t, Some(limit)).await,
            }
        };
        match tokio::time::timeout(limit, call).await {
            Ok(r) => r,
            Err(_) => Err(DriverError::Timeout(format!(
                "Timed out after {}s waiting for the power change",
                limit.as_secs()
            ))),
        }
    };
    let new = task.node.target_power_state.take();
    match result {
        Ok(()) => {
            if target != "power on" {
                // The agent dies with the power: the ramdisk must look up again.
                forget_agent(&mut task.node.driver_internal_info);
            }
            task.node.power_state = new;
            let _ = task
                .history(
                    SEVERITY_INFO,
                    "power",
                    format!("Power action \"{target}\" succeeded"),
                )
                .await;
        }
        Err(e) => {
            let msg =
                format!("Failed to change power state to '{target}' by '{target}'. Error: {e}");
            tracing::warn!(node = %task.node.uuid, error = %msg, "power action failed");
            task.node.last_error = Some(msg.clone());
            let _ = task.history(SEVERITY_ERROR, "power", msg).await;
        }
    }
    if let Err(e) = task.save().await {
        tracing::error!(node = %task.node.uuid, error = %e, "could not save power state");
    }
    task.release().await;
}
