//! The `ramdisk` deploy interface (Ironic's): the instance IS a kernel + ramdisk booted
//! over the network, from `instance_info.kernel` and `instance_info.ramdisk` (URLs, or
//! names of files under `[pxe] http_root`). Nothing is written to disk.

use async_trait::async_trait;
use serde_json::Value;

use super::*;
use crate::model::boot::BootIntent;

pub struct RamdiskDeploy;

fn info<'a>(ctx: &'a TaskContext<'_>, key: &str) -> Option<&'a str> {
    ctx.node
        .instance_info
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

#[async_trait]
impl StepInterface for RamdiskDeploy {
    async fn validate(&self, _: &TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
    fn deploy_steps(&self) -> Vec<Step> {
        vec![Step {
            interface: "deploy".into(),
            step: "deploy".into(),
            args: Default::default(),
            priority: 100,
            abortable: false,
        }]
    }
}

#[async_trait]
impl DeployInterface for RamdiskDeploy {
    async fn deploy(
        &self,
        hw: &Driver,
        ctx: &mut TaskContext<'_>,
    ) -> Result<Progress, DriverError> {
        let (Some(kernel), Some(ramdisk)) = (info(ctx, "kernel"), info(ctx, "ramdisk")) else {
            return Err(DriverError::MissingParameterValue(
                "The ramdisk deploy interface needs instance_info kernel and ramdisk".into(),
            ));
        };
        let mut append = super::node_options::kernel_append_params(
            ctx.node,
            &ctx.config.pxe.kernel_append_params,
        );
        if let Some(extra) = info(ctx, "ramdisk_kernel_arguments") {
            append = format!("{append} {extra}");
        }
        let intent = BootIntent::Ramdisk {
            purpose: "its ramdisk instance".into(),
            kernel: kernel.into(),
            ramdisk: ramdisk.into(),
            append,
        };
        hw.boot.prepare_ramdisk(ctx, intent).await?;
        if hw.boot.ramdisk_from_network() {
            hw.management.set_boot_device(ctx, "pxe", true).await?;
        }
        hw.power.reboot(ctx, false, None).await?;
        Ok(Progress::Done)
    }
    async fn tear_down(&self, hw: &Driver, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        hw.power
            .set_power_state(ctx, crate::model::states::POWER_OFF, None)
            .await?;
        hw.boot.clean_up_ramdisk(ctx).await
    }
    async fn take_over(&self, _: &Driver, _: &mut TaskContext<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}
