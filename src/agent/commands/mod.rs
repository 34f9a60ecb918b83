//! The command catalogue and its executor, with IPA's semantics: one command at a time
//! (409 while one runs), results kept in execution order, sync commands finish before
//! the reply, async ones run on their own thread and force a heartbeat when done.
//!
//! Each IPA extension declares its commands in its own file, named as IPA's
//! `ironic_python_agent/extensions/`: `deploy`, `clean`, `service`, `standby`, `image`,
//! `poll`, `log`, `system`, `rescue` (`flow` has none here); `hardware` is the generic
//! hardware manager whose steps they run.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};

use serde_json::{json, Map, Value};

use super::disk;
use super::hints;
use super::inventory::Machine;
use super::logs::LogRing;
use super::write::{self, Download};

mod clean;
mod deploy;
mod hardware;
mod image;
mod log;
mod poll;
mod rescue;
mod service;
mod standby;
mod system;

/// What the agent's main loop is told by the executor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// An async command finished: heartbeat now.
    CommandDone,
    PowerOff,
    Reboot,
    /// `system.lockdown`: stop heartbeating and serving.
    Lockdown,
    /// `rescue.finalize_rescue`: stop heartbeating and serving, and exit (the ramdisk's
    /// init then offers the rescue login).
    Rescued,
}

/// A request the agent's API refuses (IPA's RESTError kinds), which the HTTP API turns
/// into `{"faultcode", "faultstring"}`. A command that ran and failed is a [`CmdError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("Invalid request body: {0}")]
    BadBody(String),
    #[error("Invalid command: {0}")]
    InvalidCommand(String),
    #[error("Invalid command parameters: {0}")]
    InvalidParams(String),
    #[error("Token invalid.")]
    Unauthorized,
    #[error("Not found: {0}")]
    NotFound(String),
    #[error("Agent is busy: executing command {0}")]
    Busy(String),
}

impl RequestError {
    pub fn status(&self) -> u16 {
        match self {
            RequestError::BadBody(_)
            | RequestError::InvalidCommand(_)
            | RequestError::InvalidParams(_) => 400,
            RequestError::Unauthorized => 401,
            RequestError::NotFound(_) => 404,
            RequestError::Busy(_) => 409,
        }
    }

    pub fn body(&self) -> Value {
        json!({
            "faultcode": if self.status() >= 500 { "Server" } else { "Client" },
            "faultstring": self.to_string(),
        })
    }
}

/// A failed command's `command_error`, in IPA's RESTError shape.
#[derive(Debug, Clone)]
pub struct CmdError {
    pub kind: &'static str,
    pub message: &'static str,
    pub details: String,
    pub version_mismatch: bool,
}

impl CmdError {
    fn new(kind: &'static str, message: &'static str, details: impl Into<String>) -> CmdError {
        CmdError {
            kind,
            message,
            details: details.into(),
            version_mismatch: false,
        }
    }

    fn exec(details: impl Into<String>) -> CmdError {
        CmdError::new("CommandExecutionError", "Command execution failed", details)
    }

    fn to_json(&self) -> Value {
        json!({"type": self.kind, "code": 500, "message": self.message, "details": self.details})
    }
}

impl From<write::WriteError> for CmdError {
    fn from(e: write::WriteError) -> CmdError {
        let message = match e {
            write::WriteError::Checksum { .. } => "Error verifying image checksum",
            write::WriteError::Download { .. } => "Error downloading image",
            write::WriteError::InvalidParams(_) => "Invalid command parameters",
            _ => "Error writing image to device",
        };
        CmdError::new(e.kind(), message, e.to_string())
    }
}

impl From<disk::DiskError> for CmdError {
    fn from(e: disk::DiskError) -> CmdError {
        CmdError::new(
            "InstanceDeployFailure",
            "Failed to deploy instance",
            e.to_string(),
        )
    }
}

/// Machine facts and state shared by the commands.
pub struct Context {
    pub machine: Machine,
    pub download: Download,
    pub md5_allowed: bool,
    /// Smallest disk chosen without root device hints (IPA: 4 GiB).
    pub min_root_disk: u64,
    pub logs: LogRing,
    /// The node as last given by lookup or a command's `node` parameter.
    pub node: Mutex<Value>,
    /// What `standby.get_partition_uuids` returns (None before an image was written).
    pub partition_uuids: Mutex<Option<Value>>,
    pub events: Mutex<Sender<Event>>,
    /// The directory standing for / where `rescue.finalize_rescue` writes.
    pub rescue_root: std::path::PathBuf,
}

impl Context {
    fn event(&self, e: Event) {
        if let Ok(tx) = self.events.lock() {
            let _ = tx.send(e);
        }
    }

    fn cache_node(&self, params: &Map<String, Value>) {
        if let Some(n) = params.get("node").filter(|n| n.is_object()) {
            if let Ok(mut cur) = self.node.lock() {
                *cur = n.clone();
            }
        }
    }

    fn root_device_hints(&self) -> Option<Map<String, Value>> {
        let node = self.node.lock().ok()?.clone();
        let found = ["/instance_info/root_device", "/properties/root_device"]
            .into_iter()
            .find_map(|p| {
                node.pointer(p)
                    .and_then(Value::as_object)
                    .filter(|m| !m.is_empty())
                    .cloned()
            });
        found
    }

    /// The install disk per the node's root device hints.
    fn install_disk(&self) -> Result<super::inventory::Disk, CmdError> {
        let hints = self.root_device_hints();
        hints::choose(&self.machine.disks(), hints.as_ref(), self.min_root_disk).map_err(|e| {
            CmdError::new(
                "DeviceNotFound",
                "Error finding the disk or partition device to deploy the image onto",
                e.to_string(),
            )
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Running,
    Succeeded,
    Failed,
    VersionMismatch,
}

#[derive(Debug, Clone)]
struct Record {
    id: String,
    name: String,
    status: Status,
    error: Option<Value>,
    result: Option<Value>,
}

impl Record {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "command_name": self.name,
            "command_status": match self.status {
                Status::Running => "RUNNING",
                Status::Succeeded => "SUCCEEDED",
                Status::Failed => "FAILED",
                Status::VersionMismatch => "CLEAN_VERSION_MISMATCH",
            },
            "command_error": self.error,
            "command_result": self.result,
        })
    }
}

type Run = fn(&Context, &Map<String, Value>) -> Result<Value, CmdError>;
type Validate = fn(&Context, &Map<String, Value>) -> Result<(), RequestError>;

/// One entry of the catalogue.
struct Spec {
    ext: &'static str,
    name: &'static str,
    is_async: bool,
    required: &'static [&'static str],
    optional: &'static [&'static str],
    /// Extra parameters are passed on to the step (IPA's `**kwargs`).
    open: bool,
    /// Checks done before the command is accepted (400 on failure).
    validate: Option<Validate>,
    run: Run,
    /// What to tell the main loop once it finished successfully.
    after: Option<Event>,
}

/// Extensions IPA has; those without entries below answer 400 "Unknown command".
const EXTENSIONS: &[&str] = &[
    "clean", "deploy", "service", "standby", "poll", "log", "system", "image", "rescue", "flow",
];

/// Every extension's commands (each file declares its own, as IPA's extensions do).
const CATALOGUE: &[&[Spec]] = &[
    deploy::COMMANDS,
    clean::COMMANDS,
    service::COMMANDS,
    standby::COMMANDS,
    image::COMMANDS,
    poll::COMMANDS,
    log::COMMANDS,
    system::COMMANDS,
    rescue::COMMANDS,
];

/// The command executor behind the agent's REST API.
pub struct Commands {
    pub ctx: Arc<Context>,
    records: Mutex<Vec<Record>>,
    done: Condvar,
}

impl Commands {
    pub fn new(ctx: Context) -> Arc<Commands> {
        Arc::new(Commands {
            ctx: Arc::new(ctx),
            records: Mutex::new(vec![]),
            done: Condvar::new(),
        })
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Vec<Record>> {
        // A panicking command thread must not take the API down with it.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tests: pretend a command is running.
    #[cfg(test)]
    pub(crate) fn push_running(&self, name: &str) {
        self.records().push(Record {
            id: "running".into(),
            name: name.into(),
            status: Status::Running,
            error: None,
            result: None,
        });
    }

    pub fn list(&self) -> Value {
        json!({"commands": self.records().iter().map(Record::to_json).collect::<Vec<_>>()})
    }

    pub fn get(&self, id: &str) -> Result<Value, RequestError> {
        self.records()
            .iter()
            .find(|r| r.id == id)
            .map(Record::to_json)
            .ok_or_else(|| RequestError::NotFound(format!("Command with id {id} not found.")))
    }

    /// Block until command `id` is no longer running.
    pub fn wait(&self, id: &str) -> Result<Value, RequestError> {
        let mut recs = self.records();
        loop {
            let r = recs.iter().find(|r| r.id == id).ok_or_else(|| {
                RequestError::NotFound(format!("Command with id {id} not found."))
            })?;
            if r.status != Status::Running {
                return Ok(r.to_json());
            }
            recs = self.done.wait(recs).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn finish(&self, id: &str, outcome: Result<Value, CmdError>) {
        let mut recs = self.records();
        if let Some(r) = recs.iter_mut().find(|r| r.id == id) {
            match outcome {
                Ok(v) => {
                    r.status = Status::Succeeded;
                    r.result = Some(v);
                }
                Err(e) => {
                    tracing::error!(command = %r.name, error = %e.details, "command failed");
                    r.status = if e.version_mismatch {
                        Status::VersionMismatch
                    } else {
                        Status::Failed
                    };
                    r.error = Some(e.to_json());
                }
            }
        }
        drop(recs);
        self.done.notify_all();
    }

    /// Whether `execute` would accept `name` with `params` (nothing runs): for the fuzz
    /// targets, which must not write disks or download.
    #[doc(hidden)]
    pub fn check(&self, name: &str, params: &Map<String, Value>) -> Result<(), RequestError> {
        self.accept(name, params).map(|_| ())
    }

    /// The command `name` names, with `params` checked as IPA checks them before it accepts
    /// a command (400 on failure).
    fn accept(
        &self,
        name: &str,
        params: &Map<String, Value>,
    ) -> Result<&'static Spec, RequestError> {
        let Some((ext, cmd)) = name.split_once('.') else {
            return Err(RequestError::InvalidCommand(
                "Command name must be of the form <extension>.<name>".into(),
            ));
        };
        if !EXTENSIONS.contains(&ext) {
            return Err(RequestError::NotFound(format!(
                "Extension with id {ext} not found."
            )));
        }
        let spec = CATALOGUE
            .iter()
            .flat_map(|c| c.iter())
            .find(|s| s.ext == ext && s.name == cmd)
            .ok_or_else(|| RequestError::InvalidCommand(format!("Unknown command: {cmd}")))?;
        for r in spec.required {
            if !params.contains_key(*r) {
                return Err(RequestError::InvalidParams(format!(
                    "{name} is missing the parameter {r:?}"
                )));
            }
        }
        if !spec.open {
            if let Some(k) = params.keys().find(|k| {
                !spec.required.contains(&k.as_str()) && !spec.optional.contains(&k.as_str())
            }) {
                return Err(RequestError::InvalidParams(format!(
                    "{name} got an unexpected parameter {k:?}"
                )));
            }
        }
        if let Some(v) = spec.validate {
            v(&self.ctx, params)?;
        }
        Ok(spec)
    }

    /// Run `name` (`<extension>.<command>`) with `params`; returns the RESULT (RUNNING for
    /// async commands).
    pub fn execute(
        self: &Arc<Self>,
        name: &str,
        params: Map<String, Value>,
    ) -> Result<Value, RequestError> {
        let mut recs = self.records();
        if let Some(last) = recs.last().filter(|r| r.status == Status::Running) {
            return Err(RequestError::Busy(last.name.clone()));
        }
        let spec = self.accept(name, &params)?;
        let cmd = spec.name;
        let id = uuid::Uuid::new_v4().to_string();
        recs.push(Record {
            id: id.clone(),
            name: cmd.to_string(),
            status: Status::Running,
            error: None,
            result: None,
        });
        drop(recs);
        tracing::info!(command = name, id = %id, "command started");
        let run = spec.run;
        let after = spec.after;
        if spec.is_async {
            let me = Arc::clone(self);
            let tid = id.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("cmd-{cmd}"))
                .spawn(move || {
                    let out = run(&me.ctx, &params);
                    let ok = out.is_ok();
                    me.finish(&tid, out);
                    match after {
                        Some(e) if ok => me.ctx.event(e),
                        _ => me.ctx.event(Event::CommandDone),
                    }
                });
            if let Err(e) = spawned {
                self.finish(
                    &id,
                    Err(CmdError::exec(format!("cannot start a thread: {e}"))),
                );
            }
        } else {
            let out = run(&self.ctx, &params);
            let ok = out.is_ok();
            self.finish(&id, out);
            if let (Some(e), true) = (after, ok) {
                self.ctx.event(e);
            }
        }
        self.get(&id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::mpsc;

    pub fn commands(disks: Vec<PathBuf>) -> (Arc<Commands>, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let ctx = Context {
            machine: Machine {
                disk_override: disks,
                mac_override: vec!["52:54:00:00:00:01".into()],
                ..Machine::default()
            },
            download: Download::default(),
            md5_allowed: false,
            min_root_disk: hints::MIN_DISK,
            logs: LogRing::default(),
            node: Mutex::new(json!({"uuid": "n1", "properties": {}, "instance_info": {}})),
            partition_uuids: Mutex::new(None),
            events: Mutex::new(tx),
            rescue_root: std::env::temp_dir().join("ironbox-agent-tests-never-written"),
        };
        (Commands::new(ctx), rx)
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn get_deploy_steps_shape() {
        let (c, _rx) = commands(vec![]);
        let r = c
            .execute(
                "deploy.get_deploy_steps",
                params(json!({"node": {"uuid": "x"}, "ports": []})),
            )
            .unwrap();
        assert_eq!(r["command_name"], "get_deploy_steps");
        assert_eq!(r["command_status"], "SUCCEEDED");
        assert_eq!(r["command_error"], Value::Null);
        let res = &r["command_result"];
        assert_eq!(
            res["hardware_manager_version"],
            json!({"generic_hardware_manager": "1.2"})
        );
        let steps = res["deploy_steps"]["GenericHardwareManager"]
            .as_array()
            .unwrap();
        let ws = steps.iter().find(|s| s["step"] == "write_image").unwrap();
        assert_eq!(ws["interface"], "deploy");
        assert_eq!(ws["priority"], 0);
        assert_eq!(ws["reboot_requested"], false);
        assert_eq!(c.ctx.node.lock().unwrap()["uuid"], "x", "node cached");

        let r = c
            .execute(
                "clean.get_clean_steps",
                params(json!({"node": {}, "ports": []})),
            )
            .unwrap();
        let steps = r["command_result"]["clean_steps"]["GenericHardwareManager"]
            .as_array()
            .unwrap();
        let prio = |n: &str| steps.iter().find(|s| s["step"] == n).unwrap()["priority"].clone();
        assert_eq!(prio("erase_devices"), 10);
        assert_eq!(prio("erase_devices_metadata"), 99);
        assert_eq!(c.list()["commands"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn errors_map_to_ipa_statuses() {
        let (c, _rx) = commands(vec![]);
        let e = c.execute("nope.get", Map::new()).unwrap_err();
        assert_eq!(e.status(), 404);
        assert_eq!(e.body()["faultcode"], "Client");
        assert!(e.body()["faultstring"]
            .as_str()
            .unwrap()
            .contains("Extension with id nope not found"));
        assert_eq!(c.execute("deploy", Map::new()).unwrap_err().status(), 400);
        assert_eq!(
            c.execute("deploy.frobnicate", Map::new())
                .unwrap_err()
                .status(),
            400
        );
        let e = c
            .execute("deploy.get_deploy_steps", params(json!({"node": {}})))
            .unwrap_err();
        assert_eq!(e.status(), 400, "missing ports");
        let e = c
            .execute(
                "deploy.get_deploy_steps",
                params(json!({"node": {}, "ports": [], "x": 1})),
            )
            .unwrap_err();
        assert_eq!(e.status(), 400, "unknown param");
        let e = c
            .execute(
                "standby.prepare_image",
                params(json!({"image_info": {"id": "i"}})),
            )
            .unwrap_err();
        assert!(matches!(e, RequestError::InvalidParams(_)), "{e}");
        let e = c
            .execute(
                "deploy.execute_deploy_step",
                params(json!({"step": "write_image", "node": {}, "ports": []})),
            )
            .unwrap_err();
        assert_eq!(e.status(), 400, "step must be an object");
        assert!(
            c.list()["commands"].as_array().unwrap().is_empty(),
            "rejected commands are not recorded"
        );
    }

    #[test]
    fn async_steps_succeed_fail_and_mismatch() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("disk");
        std::fs::write(&d, vec![1u8; 3 << 20]).unwrap();
        let (c, rx) = commands(vec![d.clone()]);
        let r = c
            .execute(
                "clean.execute_clean_step",
                params(json!({
                "step": {"step": "erase_devices", "interface": "deploy", "priority": 10},
                "node": {}, "ports": [], "clean_version": {"generic_hardware_manager": "1.2"}})),
            )
            .unwrap();
        assert_eq!(r["command_status"], "RUNNING");
        let id = r["id"].as_str().unwrap().to_string();
        let done = c.wait(&id).unwrap();
        assert_eq!(done["command_status"], "SUCCEEDED", "{done}");
        assert_eq!(
            done["command_result"]["clean_step"]["step"],
            "erase_devices"
        );
        assert_eq!(rx.recv().unwrap(), Event::CommandDone);
        assert!(std::fs::read(&d).unwrap().iter().all(|b| *b == 0));

        let r = c
            .execute(
                "deploy.execute_deploy_step",
                params(json!({
                "step": {"step": "write_image", "interface": "deploy", "args": {"image_info": {}}},
                "node": {}, "ports": []})),
            )
            .unwrap();
        let done = c.wait(r["id"].as_str().unwrap()).unwrap();
        assert_eq!(done["command_status"], "FAILED");
        assert_eq!(done["command_error"]["type"], "InvalidCommandParamsError");

        let r = c
            .execute(
                "deploy.execute_deploy_step",
                params(json!({
                "step": {"step": "erase_devices_metadata", "interface": "deploy"},
                "node": {}, "ports": [], "deploy_version": {"generic_hardware_manager": "0.9"}})),
            )
            .unwrap();
        let done = c.wait(r["id"].as_str().unwrap()).unwrap();
        assert_eq!(done["command_status"], "CLEAN_VERSION_MISMATCH");
        assert_eq!(c.get("missing").unwrap_err().status(), 404);
    }

    #[test]
    fn a_command_really_is_exclusive() {
        let (c, _rx) = commands(vec![]);
        // Simulate a running command, as the executor records it.
        c.records().push(Record {
            id: "r".into(),
            name: "execute_deploy_step".into(),
            status: Status::Running,
            error: None,
            result: None,
        });
        let e = c.execute("standby.sync", Map::new()).unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(
            e.to_string(),
            "Agent is busy: executing command execute_deploy_step"
        );
    }
}
