//! The `system` extension (IPA's extensions/system.py): lockdown.

use serde_json::{Map, Value};

use super::{CmdError, Context, Event, Spec};

pub(super) const COMMANDS: &[Spec] = &[Spec {
    ext: "system",
    name: "lockdown",
    is_async: false,
    required: &[],
    optional: &[],
    open: false,
    validate: None,
    run: lockdown,
    after: Some(Event::Lockdown),
}];

fn lockdown(_: &Context, _: &Map<String, Value>) -> Result<Value, CmdError> {
    Ok(Value::Null)
}
