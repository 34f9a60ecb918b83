//! The generic hardware manager (IPA's hardware.py `GenericHardwareManager`): the steps
//! it offers, its version, and running a step by name for the `execute_*_step` commands.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::standby::prepare_image;
use super::{CmdError, Context, RequestError};
use crate::agent::disk;

pub(super) const MANAGER: &str = "GenericHardwareManager";
const MANAGER_NAME: &str = "generic_hardware_manager";
const MANAGER_VERSION: &str = "1.2";

pub(super) fn versions() -> Value {
    json!({ MANAGER_NAME: MANAGER_VERSION })
}

pub(super) fn step(name: &str, priority: i64, interface: &str) -> Value {
    json!({"step": name, "priority": priority, "interface": interface,
           "reboot_requested": false, "abortable": true})
}

pub(super) fn deploy_steps() -> Vec<Value> {
    vec![
        step("erase_devices_metadata", 0, "deploy"),
        step("write_image", 0, "deploy"),
    ]
}

pub(super) fn clean_steps() -> Vec<Value> {
    vec![
        step("erase_devices", 10, "deploy"),
        step("erase_devices_metadata", 99, "deploy"),
    ]
}

pub(super) fn validate_step(_: &Context, p: &Map<String, Value>) -> Result<(), RequestError> {
    match p.get("step") {
        Some(Value::Object(s)) if s.get("step").is_some_and(Value::is_string) => Ok(()),
        _ => Err(RequestError::InvalidParams(
            "'step' must be an object with a 'step' name".into(),
        )),
    }
}

/// IPA's `execute_*_step`: version check, then the step with `step.args` plus extra params.
pub(super) fn execute_step(
    ctx: &Context,
    p: &Map<String, Value>,
    version_key: &str,
    allowed: &[Value],
) -> Result<Value, CmdError> {
    ctx.cache_node(p);
    if let Some(v) = p.get(version_key).filter(|v| !v.is_null()) {
        if *v != versions() {
            let mut e = CmdError::new(
                "VersionMismatch",
                "Hardware managers version mismatch, reload agent with correct version",
                format!("Agent version: {}, node version: {v}", versions()),
            );
            e.version_mismatch = true;
            return Err(e);
        }
    }
    let step = &p["step"];
    let name = step["step"].as_str().unwrap_or_default();
    if !allowed.iter().any(|s| s["step"] == name) {
        return Err(CmdError::new(
            "HardwareManagerMethodNotFound",
            "No HardwareManager found to handle method",
            format!("Could not find a hardware manager with method {name}"),
        ));
    }
    let mut args: Map<String, Value> = p
        .iter()
        .filter(|(k, _)| !["step", "node", "ports", version_key].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(a) = step.get("args").and_then(Value::as_object) {
        args.extend(a.clone());
    }
    match name {
        "write_image" => write_image_step(ctx, &args),
        "erase_devices_metadata" => erase(ctx, false),
        "erase_devices" => erase(ctx, true),
        _ => Err(CmdError::exec(format!("step {name} is not implemented"))),
    }
}

fn erase(ctx: &Context, full: bool) -> Result<Value, CmdError> {
    let disks = ctx.machine.disks();
    if disks.is_empty() {
        return Err(CmdError::exec("no disks found to erase"));
    }
    let mut errors = vec![];
    for d in &disks {
        let path = PathBuf::from(&d.name);
        tracing::info!(disk = %d.name, full, "erasing");
        let r = if full {
            disk::zero_fill(&path, d.size)
        } else {
            disk::wipe_metadata(&path, d.size)
        };
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    }
    if errors.is_empty() {
        Ok(Value::Null)
    } else {
        Err(CmdError::new(
            "BlockDeviceEraseError",
            "Error erasing block device",
            errors.join("; "),
        ))
    }
}

fn write_image_step(ctx: &Context, args: &Map<String, Value>) -> Result<Value, CmdError> {
    for k in args.keys() {
        if k != "image_info" && k != "configdrive" {
            return Err(CmdError::new(
                "InvalidCommandParamsError",
                "Invalid command parameters",
                format!("write_image() got an unexpected argument {k:?}"),
            ));
        }
    }
    let text = prepare_image(ctx, args)?;
    Ok(text)
}
