//! The `poll` extension (IPA's extensions/poll.py): hardware info and the node's info.

use serde_json::{Map, Value};

use super::{CmdError, Context, Spec};

pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        ext: "poll",
        name: "get_hardware_info",
        is_async: false,
        required: &[],
        optional: &[],
        open: false,
        validate: None,
        run: get_hardware_info,
        after: None,
    },
    Spec {
        ext: "poll",
        name: "set_node_info",
        is_async: false,
        required: &["node_info"],
        optional: &[],
        open: false,
        validate: None,
        run: set_node_info,
        after: None,
    },
];

fn get_hardware_info(ctx: &Context, _: &Map<String, Value>) -> Result<Value, CmdError> {
    Ok(ctx.machine.inventory())
}

fn set_node_info(ctx: &Context, p: &Map<String, Value>) -> Result<Value, CmdError> {
    if let (Some(n), Ok(mut cur)) = (
        p.get("node_info").filter(|n| n.is_object()),
        ctx.node.lock(),
    ) {
        *cur = n.clone();
    }
    Ok(Value::Null)
}
