//! The `service` extension (IPA's extensions/service.py): service steps, listed and run.

use serde_json::{json, Map, Value};

use super::hardware::{execute_step, step, validate_step, versions, MANAGER};
use super::{CmdError, Context, Spec};

pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        ext: "service",
        name: "get_service_steps",
        is_async: false,
        required: &["node", "ports"],
        optional: &[],
        open: false,
        validate: None,
        run: get_service_steps,
        after: None,
    },
    Spec {
        ext: "service",
        name: "execute_service_step",
        is_async: true,
        required: &["step", "node", "ports"],
        optional: &["service_version"],
        open: true,
        validate: Some(validate_step),
        run: execute_service_step,
        after: None,
    },
];

fn get_service_steps(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    ctx.cache_node(p);
    let steps = vec![step("erase_devices_metadata", 0, "deploy")];
    Ok(json!({"service_steps": {MANAGER: steps}, "hardware_manager_version": versions()}))
}

fn execute_service_step(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    let allowed = [step("erase_devices_metadata", 0, "deploy")];
    let r = execute_step(ctx, p, "service_version", &allowed)?;
    Ok(json!({"service_result": r, "service_step": p["step"]}))
}
