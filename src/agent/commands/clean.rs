//! The `clean` extension (IPA's extensions/clean.py): clean steps, listed and run.

use serde_json::{json, Map, Value};

use super::hardware::{clean_steps, execute_step, validate_step, versions, MANAGER};
use super::{CmdError, Context, Spec};

pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        ext: "clean",
        name: "get_clean_steps",
        is_async: false,
        required: &["node", "ports"],
        optional: &[],
        open: false,
        validate: None,
        run: get_clean_steps,
        after: None,
    },
    Spec {
        ext: "clean",
        name: "execute_clean_step",
        is_async: true,
        required: &["step", "node", "ports"],
        optional: &["clean_version"],
        open: true,
        validate: Some(validate_step),
        run: execute_clean_step,
        after: None,
    },
];

fn get_clean_steps(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    ctx.cache_node(p);
    Ok(json!({"clean_steps": {MANAGER: clean_steps()}, "hardware_manager_version": versions()}))
}

fn execute_clean_step(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    let r = execute_step(ctx, p, "clean_version", &clean_steps())?;
    Ok(json!({"clean_result": r, "clean_step": p["step"]}))
}
