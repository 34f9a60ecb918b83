//! The `custom-agent` deploy interface (Ironic's CustomAgentDeploy): boot the deploy
//! ramdisk and run only the deploy steps the user asked for in its agent (Metal3 sends one
//! at priority 80); no image is written by ironbox. The rest is the `direct` machinery.

use async_trait::async_trait;
use serde_json::json;

use super::direct::{
    agent_offers, boot_agent, node_for_agent, ports_for_agent, send, step, DirectDeploy,
};
use super::*;

pub struct CustomAgentDeploy {
    pub direct: DirectDeploy,
}

#[async_trait]
impl StepInterface for CustomAgentDeploy {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        super::boot_mode::deploy_boot_mode(ctx).map(|_| ())
    }
    fn deploy_steps(&self) -> Vec<Step> {
        vec![
            step("deploy", 100, false),
            step("prepare_instance_boot", 60, false),
            step("tear_down_agent", 40, false),
            step("boot_instance", 20, false),
        ]
    }
    fn clean_steps(&self) -> Vec<Step> {
        self.direct.clean_steps()
    }
}

#[async_trait]
impl DeployInterface for CustomAgentDeploy {
    /// Boot the agent and wait for it; the user's steps follow once it is up.
    async fn deploy(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        boot_agent(hw, ctx, "the deploy ramdisk", "").await?;
        Ok(Progress::Wait)
    }

    async fn run_step(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
        step: &Step,
    ) -> Result<Progress, DriverError> {
        match step.step.as_str() {
            "deploy" => self.deploy(hw, ctx).await,
            // Nothing was written, so no bootloader to install: only the boot device.
            "prepare_instance_boot" => {
                hw.boot.prepare_instance(ctx).await?;
                if hw.management.supported_boot_devices(ctx).contains(&"disk") {
                    hw.management.set_boot_device(ctx, "disk", true).await?;
                }
                Ok(Progress::Done)
            }
            "tear_down_agent" | "boot_instance" => self.direct.run_step(hw, ctx, step).await,
            _ if step.interface == "deploy" && !step.reserved() => {
                agent_offers(ctx, &step.step)?;
                let p = json!({
                    "step": {"interface": "deploy", "step": step.step, "priority": step.priority,
                             "args": step.args, "reboot_requested": false},
                    "node": node_for_agent(ctx), "ports": ports_for_agent(ctx),
                    "deploy_version": null,
                });
                send(ctx, "deploy.execute_deploy_step", p).await
            }
            _ => self.direct.run_step(hw, ctx, step).await,
        }
    }

    fn defers_unknown_steps(&self) -> bool {
        true
    }

    async fn prepare_cleaning(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
        steps: &[Step],
    ) -> Result<Progress, DriverError> {
        self.direct.prepare_cleaning(hw, ctx, steps).await
    }

    async fn tear_down_cleaning(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(), DriverError> {
        self.direct.tear_down_cleaning(hw, ctx).await
    }

    async fn heartbeat(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        self.direct.heartbeat(hw, ctx).await
    }

    async fn tear_down(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        self.direct.tear_down(hw, ctx).await
    }

    async fn take_over(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        self.direct.take_over(hw, ctx).await
    }
}
