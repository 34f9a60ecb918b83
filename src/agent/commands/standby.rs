//! The `standby` extension (IPA's extensions/standby.py): writing the image and config
//! drive, the partition UUIDs, sync, and the in-band power off / reboot.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::{CmdError, Context, Event, RequestError, Spec};
use crate::agent::disk;
use crate::agent::write::{self, ImageInfo};

pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        ext: "standby",
        name: "prepare_image",
        is_async: true,
        required: &["image_info"],
        optional: &["configdrive"],
        open: false,
        validate: Some(validate_prepare_image),
        run: prepare_image,
        after: None,
    },
    Spec {
        ext: "standby",
        name: "get_partition_uuids",
        is_async: false,
        required: &[],
        optional: &[],
        open: false,
        validate: None,
        run: get_partition_uuids,
        after: None,
    },
    Spec {
        ext: "standby",
        name: "sync",
        is_async: false,
        required: &[],
        optional: &[],
        open: false,
        validate: None,
        run: sync,
        after: None,
    },
    Spec {
        ext: "standby",
        name: "power_off",
        is_async: true,
        required: &[],
        optional: &[],
        open: false,
        validate: None,
        run: sync,
        after: Some(Event::PowerOff),
    },
    Spec {
        ext: "standby",
        name: "run_image",
        is_async: true,
        required: &[],
        optional: &[],
        open: false,
        validate: None,
        run: sync,
        after: Some(Event::Reboot),
    },
];

fn validate_prepare_image(ctx: &Context, p: &Map<String, Value>) -> Result<(), RequestError> {
    ImageInfo::parse(&p["image_info"], ctx.md5_allowed)
        .map(|_| ())
        .map_err(|e| RequestError::InvalidParams(e.to_string()))?;
    match p.get("configdrive") {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(RequestError::InvalidParams(
            "'configdrive' must be a string".into(),
        )),
    }
}

/// `standby.prepare_image` / the `write_image` step; result `{"result": "prepare_image: …"}`.
pub(super) fn prepare_image(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    let empty = Value::Null;
    let raw_info = p.get("image_info").unwrap_or(&empty);
    let info = ImageInfo::parse(raw_info, ctx.md5_allowed)?;
    let configdrive = match p.get("configdrive").or_else(|| raw_info.get("configdrive")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(CmdError::exec("'configdrive' must be a string")),
    };
    let disk = ctx.install_disk()?;
    let path = PathBuf::from(&disk.name);
    tracing::info!(image = %info.id, disk = %disk.name, "writing image");
    write::write_image(&info, &path, disk.size, ctx.md5_allowed, &ctx.download)?;
    if let Some(cd) = configdrive {
        let bytes = write::config_drive_bytes(&cd, &ctx.download)?;
        let part = disk::add_config_drive(&path, disk.size, &bytes)?;
        tracing::info!(
            partition = part.number,
            bytes = bytes.len(),
            "config drive written"
        );
    }
    let root = disk::disk_identifier(&path)?;
    if let Ok(mut u) = ctx.partition_uuids.lock() {
        *u = Some(json!({"root uuid": root}));
    }
    Ok(json!({"result": format!(
        "prepare_image: image ({}) written to device {} root_uuid={}",
        info.id, disk.name, root
    )}))
}

fn get_partition_uuids(ctx: &Context, _: &Map<String, Value>) -> Result<Value, CmdError> {
    Ok(ctx
        .partition_uuids
        .lock()
        .ok()
        .and_then(|u| u.clone())
        .unwrap_or_else(|| json!({})))
}

fn sync(_: &Context, _: &Map<String, Value>) -> Result<Value, CmdError> {
    // SAFETY: sync(2) has no arguments and cannot fail.
    unsafe { libc::sync() };
    Ok(Value::Null)
}
