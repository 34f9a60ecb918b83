//! The `deploy` extension (IPA's extensions/deploy.py): deploy steps, listed and run.

use serde_json::{json, Map, Value};

use super::hardware::{deploy_steps, execute_step, validate_step, versions, MANAGER};
use super::{CmdError, Context, Spec};

pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        ext: "deploy",
        name: "get_deploy_steps",
        is_async: false,
        required: &["node", "ports"],
        optional: &[],
        open: false,
        validate: None,
        run: get_deploy_steps,
        after: None,
    },
    Spec {
        ext: "deploy",
        name: "execute_deploy_step",
        is_async: true,
        required: &["step", "node", "ports"],
        optional: &["deploy_version"],
        open: true,
        validate: Some(validate_step),
        run: execute_deploy_step,
        after: None,
    },
];

fn get_deploy_steps(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    ctx.cache_node(p);
    Ok(json!({"deploy_steps": {MANAGER: deploy_steps()}, "hardware_manager_version": versions()}))
}

fn execute_deploy_step(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    let r = execute_step(ctx, p, "deploy_version", &deploy_steps())?;
    Ok(json!({"deploy_result": r, "deploy_step": p["step"]}))
}
