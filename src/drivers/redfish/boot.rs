//! The `redfish-virtual-media` boot interface (Ironic's redfish/boot.py): an ISO in the
//! system's virtual CD/DVD, booted once for a ramdisk or persistently for an instance.

use async_trait::async_trait;
use serde_json::Value;

use super::management::set_boot;
use super::*;
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
        "Node {} has no ISO for the redfish-virtual-media boot interface: set driver_info redfish_deploy_iso (or instance_info deploy_iso or boot_iso) to the http(s) URL of a bootable ISO; ironbox does not build ISOs",
        ctx.node.uuid
    ))
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
        iso_url(ctx).map(|_| ()).ok_or_else(|| missing_iso(ctx))
    }
}

#[async_trait]
impl BootInterface for RedfishVirtualMediaBoot {
    /// Insert the ISO into the first CD/DVD device and boot from it once. The intent's
    /// kernel and ramdisk cannot be used: a BMC boots images, not files.
    async fn prepare_ramdisk(
        &self,
        ctx: &mut TaskContext<'_>,
        _intent: BootIntent,
    ) -> Result<(), DriverError> {
        let iso = iso_url(ctx).ok_or_else(|| missing_iso(ctx))?;
        let c = client(ctx)?;
        insert(&c, &iso).await?;
        set_boot(ctx, &c, "cdrom", false).await
    }
    async fn clean_up_ramdisk(&self, ctx: &mut TaskContext<'_>) -> Result<(), DriverError> {
        let c = client(ctx)?;
        eject_all(&c).await
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
        eject_all(&c).await
    }
}
