//! Virtual media of the `redfish` management interface (Ironic's get_vmedia, insert_vmedia
//! and eject_vmedia in redfish/boot.py): the device is found by its MediaTypes, media of
//! that type is ejected first, and a device that refuses the insert (400 or 405, as some
//! vendors' KVM-only slots do) passes the image on to the next one.

use serde_json::Value;

use super::*;
use crate::bmc::redfish::media_types;

fn is_inserted(dev: &Value) -> bool {
    dev.get("Inserted").and_then(Value::as_bool) == Some(true)
        || dev
            .get("Image")
            .and_then(Value::as_str)
            .is_some_and(|i| !i.is_empty())
}

async fn devices(c: &Client, types: &[&str]) -> Result<Vec<(String, Value)>, DriverError> {
    let (_, sys) = system(c).await?;
    crate::metrics::bmc_timed("redfish", "get_virtual_media", c.media_devices(&sys, types))
        .await
        .map_err(bmc_err)
}

async fn eject(c: &Client, devices: &[(String, Value)]) -> Result<(), DriverError> {
    for (path, dev) in devices.iter().filter(|(_, d)| is_inserted(d)) {
        crate::metrics::bmc_timed("redfish", "eject_media", c.eject_media(path, dev))
            .await
            .map_err(bmc_err)?;
    }
    Ok(())
}

/// Every device with its MediaTypes, Inserted and Image.
pub async fn get(ctx: &TaskContext<'_>) -> Result<Vec<VmediaStatus>, DriverError> {
    let c = client(ctx)?;
    Ok(devices(&c, &[])
        .await?
        .iter()
        .map(|(_, d)| VmediaStatus {
            media_types: media_types(d),
            inserted: d.get("Inserted").and_then(Value::as_bool),
            image: d.get("Image").and_then(Value::as_str).map(str::to_string),
        })
        .collect())
}

/// Eject what devices of `device`'s type hold, then insert `url` into the first that
/// takes it.
pub async fn insert(
    ctx: &TaskContext<'_>,
    device: VmediaDevice,
    url: &str,
) -> Result<(), DriverError> {
    let c = client(ctx)?;
    let found = devices(&c, device.media_types()).await?;
    eject(&c, &found).await?;
    let mut refusals = vec![];
    for (path, dev) in &found {
        match crate::metrics::bmc_timed("redfish", "insert_media", c.insert_media(path, dev, url))
            .await
        {
            Ok(()) => return Ok(()),
            Err(e) if matches!(e.status(), Some(400 | 405)) => {
                tracing::warn!(node = %ctx.node.uuid, device = %path, error = %e,
                    "the virtual media device refused the image; trying the next one");
                refusals.push(e.to_string());
            }
            Err(e) => return Err(bmc_err(e)),
        }
    }
    let node = &ctx.node.uuid;
    Err(DriverError::InvalidParameterValue(match refusals.as_slice() {
        [] => format!(
            "No suitable virtual media device found for node {node} to mount image {url}"
        ),
        [one] => format!(
            "Virtual media mount failed for node {node} with image {url}. Error: {one}"
        ),
        [first, .., last] => format!(
            "Virtual media mount failed for node {node} with image {url} after multiple attempts. First error: {first}. Last error: {last}"
        ),
    }))
}

/// Eject the devices of these types (every device for None).
pub async fn eject_types(
    ctx: &TaskContext<'_>,
    types: Option<&[VmediaDevice]>,
) -> Result<(), DriverError> {
    let c = client(ctx)?;
    match types {
        None => eject(&c, &devices(&c, &[]).await?).await,
        Some(types) => {
            for t in types {
                eject(&c, &devices(&c, t.media_types()).await?).await?;
            }
            Ok(())
        }
    }
}
