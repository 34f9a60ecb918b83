//! Boot ISOs built per node for virtual media (Ironic's `image_utils.prepare_deploy_iso`):
//! the boot intent's kernel and ramdisk, fetched into the image cache, put on a
//! UEFI-bootable ISO (see `image::bootiso`) with the intent's command line, and served by
//! the boot HTTP server for the BMC to fetch.
//!
//! The ISO is a cache entry named after the node and a hash of everything on it, so a
//! second boot with the same inputs reuses it; it is deleted when the ramdisk is cleaned
//! up. The command line is the one network boot uses (`kernel_append_params`,
//! `ipa-api-url`): it holds no token or password (the agent's token is issued at lookup).

use sha2::{Digest, Sha256};

use super::boot_mode::deploy_boot_mode;
use super::{DriverError, TaskContext};
use crate::config::BootMode;
use crate::image::bootiso::{self, Arch, BootIso};
use crate::image::cache::CachedImage;

/// `driver_internal_info` key: the cache source of the node's built ISO, so clean-up can
/// delete it.
pub const BUILT_ISO: &str = "vmedia_built_iso";

/// The node's CPU architecture, as the ISO's loader must match it.
fn arch(ctx: &TaskContext<'_>) -> Result<Arch, DriverError> {
    let cpu = ctx
        .node
        .properties
        .get("cpu_arch")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    Arch::parse(cpu).ok_or_else(|| {
        DriverError::InvalidParameterValue(format!(
            "Node {}: ironbox builds boot ISOs for x86_64 and aarch64, not cpu_arch {cpu:?}; give driver_info redfish_deploy_iso",
            ctx.node.uuid
        ))
    })
}

/// The iPXE EFI program for `arch`: `[pxe] ipxe_dir`, else the one embedded at build time.
async fn loader(ctx: &TaskContext<'_>, arch: Arch) -> Result<Vec<u8>, DriverError> {
    let name = match arch {
        Arch::X86_64 => "ipxe.efi",
        Arch::Aarch64 => "ipxe-arm64.efi",
    };
    let path = ctx.config.pxe.ipxe_dir.join(name);
    let found = match tokio::fs::read(&path).await {
        Ok(b) => Some(b),
        Err(_) => crate::model::ipxe::embedded(name).map(<[u8]>::to_vec),
    };
    let bytes = found.ok_or_else(|| {
        DriverError::Failed(format!(
            "no iPXE program {name} to put on the boot ISO: not in [pxe] ipxe_dir ({}) and none embedded in this build",
            ctx.config.pxe.ipxe_dir.display()
        ))
    })?;
    if !bootiso::loader_runs_autoexec(&bytes) {
        return Err(DriverError::Failed(format!(
            "the iPXE program {name} cannot start a boot ISO: it does not run autoexec.ipxe (iPXE before 1.21.1, such as Debian 12's); set [pxe] ipxe_dir to a newer iPXE (Debian 13's ipxe package) or use a release binary"
        )));
    }
    Ok(bytes)
}

/// What validation can tell before anything is fetched: the node boots UEFI on an
/// architecture we have a loader for.
pub async fn check(ctx: &TaskContext<'_>) -> Result<(), DriverError> {
    if deploy_boot_mode(ctx)? == BootMode::Bios {
        return Err(DriverError::InvalidParameterValue(format!(
            "Node {} boots in BIOS mode, and ironbox builds UEFI-only boot ISOs: give driver_info redfish_deploy_iso (a BIOS-bootable ISO) or set the node's boot_mode capability to uefi",
            ctx.node.uuid
        )));
    }
    let arch = arch(ctx)?;
    loader(ctx, arch).await.map(|_| ())
}

/// A kernel or ramdisk reference as the image cache fetches it: a URL as given, a bare
/// name as the file under `[pxe] http_root`.
fn source_of(ctx: &TaskContext<'_>, what: &str, r: &str) -> Result<String, DriverError> {
    if r.contains("://") {
        return Ok(r.to_string());
    }
    let path = ctx.config.pxe.http_root.join(r.trim_start_matches('/'));
    let abs = std::fs::canonicalize(&path).map_err(|e| {
        DriverError::InvalidParameterValue(format!(
            "Node {}: cannot read the {what} {}: {e}",
            ctx.node.uuid,
            path.display()
        ))
    })?;
    Ok(format!("file://{}", abs.display()))
}

async fn fetch(
    ctx: &TaskContext<'_>,
    cache: &crate::image::cache::ImageCache,
    what: &str,
    r: &str,
) -> Result<CachedImage, DriverError> {
    let source = source_of(ctx, what, r)?;
    cache
        .fetch(&source, None, false)
        .await
        .map_err(|e| DriverError::Image {
            image: source,
            source: Box::new(e),
        })
}

/// Builds (or finds) the node's ISO booting `kernel` + `ramdisk` with `cmdline`, and gives
/// the URL the BMC fetches it from.
pub async fn build(
    ctx: &mut TaskContext<'_>,
    kernel: &str,
    ramdisk: &str,
    cmdline: &str,
) -> Result<String, DriverError> {
    check(ctx).await?;
    bootiso::check_cmdline(cmdline)
        .map_err(|e| DriverError::InvalidParameterValue(format!("Node {}: {e}", ctx.node.uuid)))?;
    let (Some(cache), Some(base)) = (ctx.images.clone(), ctx.urls.boot_http.clone()) else {
        return Err(DriverError::Failed(format!(
            "Node {}: a boot ISO is served by ironbox's boot HTTP server, which needs a boot network ([dhcp] interface); or give driver_info redfish_deploy_iso",
            ctx.node.uuid
        )));
    };
    let arch = arch(ctx)?;
    let loader = loader(ctx, arch).await?;
    let kernel = fetch(ctx, &cache, "deploy kernel", kernel).await?;
    let ramdisk = fetch(ctx, &cache, "deploy ramdisk", ramdisk).await?;
    let mut h = Sha256::new();
    for part in [
        arch.loader_file().as_bytes(),
        &Sha256::digest(&loader),
        kernel.sha256.as_bytes(),
        ramdisk.sha256.as_bytes(),
        cmdline.as_bytes(),
    ] {
        h.update(part);
        h.update(b"\n");
    }
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let source = format!("built:boot-iso:{}:{digest}", ctx.node.uuid);
    let (kpath, rpath, line) = (
        kernel.path.clone(),
        ramdisk.path.clone(),
        cmdline.to_string(),
    );
    let iso = cache
        .produce(&source, move |out| {
            let spec = BootIso {
                arch,
                loader: &loader,
                kernel: &kpath,
                ramdisk: &rpath,
                cmdline: &line,
            };
            bootiso::build(&spec, out).map(|_| ())
        })
        .await
        .map_err(|e| DriverError::Image {
            image: format!("the boot ISO of node {}", ctx.node.uuid),
            source: Box::new(e),
        })?;
    // The kernel and ramdisk leases end here; the ISO holds its own copies.
    drop((kernel, ramdisk));
    let previous = ctx
        .node
        .driver_internal_info
        .insert(BUILT_ISO.into(), source.clone().into());
    if let Some(old) = previous.as_ref().and_then(serde_json::Value::as_str) {
        if old != source {
            cache.remove(old);
        }
    }
    let name = iso
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tracing::info!(node = %ctx.node.uuid, size = iso.size, sha256 = %iso.sha256, "boot ISO ready");
    Ok(format!("{base}/images/{name}"))
}

/// Deletes the node's built ISO, if it has one.
pub fn remove(ctx: &mut TaskContext<'_>) {
    let Some(source) = ctx.node.driver_internal_info.remove(BUILT_ISO) else {
        return;
    };
    if let (Some(cache), Some(s)) = (&ctx.images, source.as_str()) {
        cache.remove(s);
    }
}
