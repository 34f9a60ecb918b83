//! The `redfish-virtual-media` boot interface (Ironic's redfish/boot.py): an ISO in the
//! system's virtual CD/DVD, booted once for a ramdisk or persistently for an instance.
//! The ISO is the one given (`redfish_deploy_iso`, `deploy_iso`, `boot_iso`), else one
//! ironbox builds from the deploy kernel and ramdisk (`drivers::boot_iso`).

use async_trait::async_trait;
use serde_json::Value;

use super::management::set_boot;
use super::*;
use crate::drivers::boot_iso;
use crate::model::boot::BootIntent;

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
        "Node {} has no ISO for the redfish-virtual-media boot interface: set driver_info deploy_kernel and deploy_ramdisk (or [conductor] deploy_kernel and deploy_ramdisk) for ironbox to build one, or redfish_deploy_iso (or instance_info deploy_iso or boot_iso) to the http(s) URL of a bootable ISO",
        ctx.node.uuid
    ))
}

/// Whether a deploy kernel and ramdisk are configured (driver_info, else `[conductor]`),
/// from which an ISO can be built.
fn has_deploy_ramdisk(ctx: &TaskContext<'_>) -> bool {
    let unset = |k: &str, default: &str| {
        ctx.node
            .driver_info
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .trim()
            .is_empty()
    };
    !unset("deploy_kernel", &ctx.config.conductor.deploy_kernel)
        && !unset("deploy_ramdisk", &ctx.config.conductor.deploy_ramdisk)
}

/// Eject whatever is in the system's CD/DVD devices.
async fn eject_all(c: &Client) -> Result<(), DriverError> {
    let (_, sys) = system(c).await?;
    for (path, dev) in crate::metrics::bmc_timed("redfish", "get_virtual_media", c.cd_devices(&sys))
        .await
        .map_err(bmc_err)?
    {
        if dev.get("Inserted").and_then(Value::as_bool) == Some(true)
            || dev
                .get("Image")
                .and_then(Value::as_str)
                .is_some_and(|i| !i.is_empty())
        {
            crate::metrics::bmc_timed("redfish", "eject_media", c.eject_media(&path, &dev))
                .await
                .map_err(bmc_err)?;
        }
    }
    Ok(())
}

/// Put `iso` into the system's first CD/DVD device (ejecting what is there).
async fn insert(c: &Client, iso: &str) -> Result<(), DriverError> {
    let (_, sys) = system(c).await?;
    let devices = crate::metrics::bmc_timed("redfish", "get_virtual_media", c.cd_devices(&sys))
        .await
        .map_err(bmc_err)?;
    let Some((path, dev)) = devices.first() else {
        return Err(DriverError::Failed(
            "the BMC has no CD/DVD virtual media device".into(),
        ));
    };
    if dev["Inserted"].as_bool() == Some(true) {
        crate::metrics::bmc_timed("redfish", "eject_media", c.eject_media(path, dev))
            .await
            .map_err(bmc_err)?;
    }
    crate::metrics::bmc_timed("redfish", "insert_media", c.insert_media(path, dev, iso))
        .await
        .map_err(bmc_err)
}

pub struct RedfishVirtualMediaBoot;

#[async_trait]
impl StepInterface for RedfishVirtualMediaBoot {
    async fn validate(&self, ctx: &TaskContext<'_>) -> Result<(), DriverError> {
        endpoint(ctx)?;
        if iso_url(ctx).is_some() {
            return Ok(());
        }
        if !has_deploy_ramdisk(ctx) {
            return Err(missing_iso(ctx));
        }
        boot_iso::check(ctx).await
    }
}

#[async_trait]
impl BootInterface for RedfishVirtualMediaBoot {
    /// Insert the ISO into the first CD/DVD device and boot from it once: the ISO given,
    /// else one built from the intent's kernel, ramdisk and command line.
    async fn prepare_ramdisk(
        &self,
        ctx: &mut TaskContext<'_>,
        intent: BootIntent,
    ) -> Result<(), DriverError> {
        let iso = match (iso_url(ctx), intent) {
            (Some(iso), _) => iso,
            (
                None,
                BootIntent::Ramdisk {
                    kernel,
                    ramdisk,
                    append,
                    ..
                },
            ) if !kernel.trim().is_empty() && !ramdisk.trim().is_empty() => {
                boot_iso::build(ctx, &kernel, &ramdisk, &append).await?
            }
            _ => return Err(missing_iso(ctx)),
        };
        let c = client(ctx)?;
        insert(&c, &iso).await?;
        set_boot(ctx, &c, "cdrom", false).await
    }
    async fn clean_up_ramdisk(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        eject_all(&c).await?;
        boot_iso::remove(ctx);
        Ok(())
    }
    fn ramdisk_from_network(&self) -> bool {
        false
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
        eject_all(&c).await?;
        boot_iso::remove(ctx);
        Ok(())
    }
}
