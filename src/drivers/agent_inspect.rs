//! The `agent` inspect interface (Ironic's in-band inspection): boot the deploy ramdisk
//! with `ipa-inspection-callback-url`; its agent posts the hardware inventory to
//! `/v1/continue_inspection`, where the conductor stores it and finishes.

use async_trait::async_trait;

use super::direct::{agent_api_url, boot_agent};
use super::*;
use crate::model::dii::forget_agent;
use crate::model::states::POWER_OFF;

pub struct AgentInspect;

#[async_trait]
impl StepInterface for AgentInspect {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}

#[async_trait]
impl InspectInterface for AgentInspect {
    async fn inspect_hardware(&self, _: &mut TaskContext<'_>) -> Result<Progress, DriverError> {
        Err(DriverError::Failed(
            "in-band inspection needs the node's whole driver".into(),
        ))
    }

    async fn start_inspection(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        let callback = format!(
            "ipa-inspection-callback-url={}/v1/continue_inspection",
            agent_api_url(ctx)?
        );
        boot_agent(hw, ctx, "the inspection ramdisk", &callback).await?;
        Ok(Progress::Wait)
    }

    async fn finish_inspection(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<(), DriverError> {
        forget_agent(&mut ctx.node.driver_internal_info);
        hw.power.set_power_state(ctx, POWER_OFF, None).await?;
        hw.boot.clean_up_ramdisk(ctx).await
    }
}
