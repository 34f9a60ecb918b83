//! The `log` extension (IPA's extensions/log.py): the agent's system logs.

use serde_json::{json, Map, Value};

use super::{CmdError, Context, Spec};
use crate::agent::logs;

pub(super) const COMMANDS: &[Spec] = &[Spec {
    ext: "log",
    name: "collect_system_logs",
    is_async: false,
    required: &[],
    optional: &[],
    open: false,
    validate: None,
    run: collect_system_logs,
    after: None,
}];

fn collect_system_logs(ctx: &Context, _: &Map<String, Value>) -> Result<Value, CmdError> {
    let logs = logs::collect(&ctx.logs, &ctx.machine.proc, &ctx.machine.inventory())
        .map_err(|e| CmdError::exec(format!("collecting logs: {e}")))?;
    Ok(json!({"system_logs": logs}))
}
