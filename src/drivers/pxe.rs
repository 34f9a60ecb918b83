//! The `ipxe`, `pxe`, `http` and `http-ipxe` boot interfaces (Ironic's names). All boot
//! through ironbox's own DHCP/TFTP/HTTP servers, which hand each client (PXE ROM, UEFI HTTP
//! boot, iPXE) the right program and chain it into iPXE; preparing a boot is writing a
//! BootIntent on the node, which the HTTP boot server renders when the machine asks.

use async_trait::async_trait;

use super::*;
use crate::model::boot::BootIntent;
use crate::model::dii::BOOT_INTENT;

pub struct NetBoot;

fn set(ctx: &mut TaskContext<'_>, intent: Option<BootIntent>) -> Result<(), DriverError> {
    match intent {
        Some(i) => {
            let v = serde_json::to_value(i).map_err(DriverError::client)?;
            ctx.node.driver_internal_info.insert(BOOT_INTENT.into(), v);
        }
        None => {
            ctx.node.driver_internal_info.remove(BOOT_INTENT);
        }
    }
    Ok(())
}

#[async_trait]
impl StepInterface for NetBoot {
    /// A network-booted node needs a PXE-enabled port: its MAC is how it is recognised.
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        if !ctx.ports.iter().any(|p| p.pxe_enabled) {
            return Err(DriverError::MissingParameterValue(format!(
                "Node {} does not have any port associated with it",
                ctx.node.uuid
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl BootInterface for NetBoot {
    async fn prepare_ramdisk(
        &self,
        ctx: &mut TaskContext<'_>,
        intent: BootIntent,
    ) -> Result<(), DriverError> {
        set(ctx, Some(intent))
    }
    async fn clean_up_ramdisk(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        set(ctx, None)
    }
    async fn prepare_instance(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        set(ctx, Some(BootIntent::Local))
    }
    async fn clean_up_instance(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        set(ctx, None)
    }
}
