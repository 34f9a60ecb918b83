//! What bios and firmware interfaces read from the hardware, stored: BIOS settings and
//! firmware components. Ironic's node_update_cache, run when a node is verified and when
//! cleaning or servicing starts and ends; it never fails the operation (a BMC without
//! BIOS or firmware facts is common), it logs.

use super::task::NodeTask;
use crate::drivers::{BiosUpdate, DriverError, TaskContext};
use crate::model::firmware::Component;

/// Store what a driver call left in the context.
pub async fn store(
    task: &NodeTask,
    bios: Option<BiosUpdate>,
    firmware: Option<Vec<Component>>,
) -> Result<(), String> {
    let store = &task.conductor.store;
    if let Some(update) = bios {
        store
            .bios_update(task.node.id, update, crate::model::now())
            .await
            .map_err(|e| e.to_string())?;
    }
    if let Some(list) = firmware {
        store
            .firmware_sync(task.node.id, list, crate::model::now())
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Read and store the node's BIOS settings and firmware components, as far as its
/// interfaces can.
pub async fn update_cache(task: &mut NodeTask) {
    let (driver, mut ctx) = task.ctx();
    for kind in ["bios", "firmware"] {
        let Some(i) = driver.step_interface(kind) else {
            continue;
        };
        match cache_one(&*i, &mut ctx).await {
            Ok(()) => {}
            // no-bios, no-firmware: nothing to read.
            Err(e @ DriverError::Unsupported { .. }) => {
                tracing::debug!(node = %ctx.node.uuid, kind, error = %e, "nothing to cache")
            }
            Err(e) => tracing::warn!(node = %ctx.node.uuid, kind, error = %e, "caching failed"),
        }
    }
    let (bios, firmware) = (ctx.bios_update.take(), ctx.firmware_update.take());
    drop(ctx);
    if let Err(e) = store(task, bios, firmware).await {
        tracing::warn!(node = %task.node.uuid, error = %e, "could not store cached hardware facts");
    }
}

async fn cache_one(
    i: &dyn crate::drivers::StepInterface,
    ctx: &mut TaskContext<'_>,
) -> Result<(), DriverError> {
    i.validate(ctx).await?;
    i.cache(ctx).await
}
