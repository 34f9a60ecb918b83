//! The `image` extension (IPA's extensions/image.py): the boot loader of a written image.

use std::path::Path;

use serde_json::{Map, Value};

use super::{CmdError, Context, Spec};
use crate::agent::efi;

pub(super) const COMMANDS: &[Spec] = &[Spec {
    ext: "image",
    name: "install_bootloader",
    is_async: true,
    required: &["root_uuid"],
    optional: &[
        "efi_system_part_uuid",
        "prep_boot_part_uuid",
        "target_boot_mode",
        "ignore_bootloader_failure",
    ],
    open: false,
    validate: None,
    run: install_bootloader,
    after: None,
}];

/// IPA's `install_bootloader` for whole-disk images (the only kind this agent writes): in
/// UEFI mode, register the image's EFI loaders in NVRAM; in BIOS mode the image brings its
/// own boot code, so there is nothing to do (IPA, too, installs no grub for one).
/// `ignore_bootloader_failure` turns failures into log lines.
fn install_bootloader(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    let ignore = p
        .get("ignore_bootloader_failure")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let target = p.get("target_boot_mode").and_then(Value::as_str);
    let current = ctx.machine.boot_mode();
    if target.is_some_and(|t| t != current) {
        tracing::warn!(
            target,
            current,
            "boot mode mismatch: the boot loader may not work"
        );
    }
    let outcome = if current == "uefi" {
        let disk = ctx.install_disk()?;
        efi::install(Path::new(&disk.name), &ctx.machine.efivars())
            .map(|added| {
                for (num, l) in added {
                    tracing::info!(entry = format!("Boot{num:04X}"), loader = %l.path, label = %l.label, "UEFI boot entry added");
                }
            })
            .map_err(|e| e.to_string())
    } else {
        Ok(())
    };
    match outcome {
        Ok(()) => Ok(Value::Null),
        Err(e) if ignore => {
            tracing::warn!(error = %e, "boot loader installation failed; ignored as asked");
            Ok(Value::Null)
        }
        Err(e) => Err(CmdError::exec(format!("Error setting up bootloader: {e}"))),
    }
}
