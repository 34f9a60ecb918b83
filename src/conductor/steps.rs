//! Clean, deploy and service steps: collecting them from the interfaces, validating user
//! lists, and running them in order with progress kept in `driver_internal_info` (so a
//! held or waiting node resumes where it stopped). Reserved step names as Ironic has them:
//! `hold`, `wait` (with `seconds`), `power_on`, `power_off`, `reboot`.

use std::time::Duration;

use serde_json::{json, Value};

use super::task::NodeTask;
use super::{ConductorError as E, Result};
use crate::drivers::agent_client::agent_steps;
use crate::drivers::{Driver, Progress, Step, RESERVED_STEPS as RESERVED};
use crate::model::dii::{step_index_key, steps_key};
use crate::model::secrets;
use crate::model::states::{POWER_OFF, POWER_ON};
use crate::model::step::StepKind;

/// Interfaces whose steps may be requested, and their tie-break priority (higher first).
const INTERFACE_PRIORITY: &[(&str, i64)] = &[
    ("network", 8),
    ("vendor", 7),
    ("power", 6),
    ("management", 5),
    ("firmware", 4),
    ("deploy", 3),
    ("bios", 2),
    ("raid", 1),
];

fn interface_priority(i: &str) -> i64 {
    INTERFACE_PRIORITY
        .iter()
        .find(|(k, _)| *k == i)
        .map_or(0, |(_, p)| *p)
}

/// Steps the driver offers for `kind` (clean steps also serve servicing).
fn offered(driver: &Driver, kind: StepKind) -> Vec<Step> {
    let mut out = vec![];
    for (iface, _) in INTERFACE_PRIORITY {
        if let Some(i) = driver.step_interface(iface) {
            out.extend(match kind {
                StepKind::Deploy => i.deploy_steps(),
                StepKind::Clean | StepKind::Service => i.clean_steps(),
            });
        }
    }
    out
}

/// Steps automated cleaning runs: priority > 0, highest first.
pub fn automated_clean_steps(driver: &Driver) -> Vec<Step> {
    let mut steps: Vec<Step> = offered(driver, StepKind::Clean)
        .into_iter()
        .filter(|s| s.priority > 0)
        .collect();
    steps.sort_by_key(|s| (-s.priority, -interface_priority(&s.interface)));
    steps
}

/// Deploy steps: the driver's, with user-given ones overriding priority by name, highest first.
pub fn deploy_steps(driver: &Driver, user: &[Step]) -> Vec<Step> {
    let mut steps = offered(driver, StepKind::Deploy);
    for u in user {
        match steps
            .iter_mut()
            .find(|s| s.interface == u.interface && s.step == u.step)
        {
            Some(s) => {
                s.priority = u.priority;
                s.args = u.args.clone();
            }
            None => steps.push(u.clone()),
        }
    }
    steps.retain(|s| s.priority > 0);
    steps.sort_by_key(|s| (-s.priority, -interface_priority(&s.interface)));
    steps
}

/// Parse and check a user step list (manual cleaning, servicing, deploy_steps): known
/// interfaces, steps the driver offers (or reserved names), right argument shapes.
pub fn parse_user_steps(driver: &Driver, kind: StepKind, raw: &Value) -> Result<Vec<Step>> {
    let what = format!("{}_steps", kind.name());
    let list = raw.as_array().ok_or_else(|| {
        E::InvalidParameterValue(format!(
            "Schema error for {what}: {} is not of type 'array'",
            secrets::opaque(raw)
        ))
    })?;
    let offered = offered(driver, kind);
    let mut out = vec![];
    for item in list {
        let o = item.as_object().ok_or_else(|| {
            E::InvalidParameterValue(format!(
                "Schema error for {what}: {} is not of type 'object'",
                secrets::opaque(item)
            ))
        })?;
        let allowed: &[&str] = match kind {
            StepKind::Deploy => &["interface", "step", "args", "priority"],
            _ => &[
                "interface",
                "step",
                "args",
                "order",
                "execute_on_child_nodes",
                "limit_child_node_execution",
            ],
        };
        if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(E::InvalidParameterValue(format!("Schema error for {what}: Additional properties are not allowed ('{k}' was unexpected)")));
        }
        let interface = o.get("interface").and_then(Value::as_str).ok_or_else(|| {
            E::InvalidParameterValue(format!(
                "Schema error for {what}: 'interface' is a required property"
            ))
        })?;
        let step = o.get("step").and_then(Value::as_str).ok_or_else(|| {
            E::InvalidParameterValue(format!(
                "Schema error for {what}: 'step' is a required property"
            ))
        })?;
        if !INTERFACE_PRIORITY.iter().any(|(k, _)| *k == interface)
            || (kind == StepKind::Clean && interface == "network")
        {
            return Err(E::InvalidParameterValue(format!(
                "Schema error for {what}: '{interface}' is not one of the step interfaces"
            )));
        }
        let args = match o.get("args") {
            None | Some(Value::Null) => Default::default(),
            Some(Value::Object(a)) => a.clone(),
            Some(other) => {
                return Err(E::InvalidParameterValue(format!(
                    "Schema error for {what}: {} is not of type 'object'",
                    secrets::opaque(other)
                )))
            }
        };
        let priority = match (kind, o.get("priority")) {
            (StepKind::Deploy, Some(Value::Number(n))) if n.as_i64().is_some_and(|p| p >= 0) => {
                n.as_i64().unwrap_or(0)
            }
            (StepKind::Deploy, _) => {
                return Err(E::InvalidParameterValue(format!(
                    "Schema error for {what}: 'priority' must be a non-negative integer"
                )))
            }
            _ => 0,
        };
        let reserved = RESERVED.contains(&step);
        if reserved
            && step == "wait"
            && args
                .get("seconds")
                .and_then(|s| s.as_u64())
                .is_none_or(|x| x > 3600)
        {
            return Err(E::InvalidParameterValue(
                "The wait step needs an integer \"seconds\" argument (at most 3600)".into(),
            ));
        }
        // The core deploy step belongs to the deploy interface (priority 0 disables it).
        if kind == StepKind::Deploy && interface == "deploy" && step == "deploy" && priority != 0 {
            return Err(E::InvalidParameterValue("Invalid deploy steps: deploy step deploy on interface deploy is a core step and cannot be overridden by user steps. It may be disabled by setting the priority to 0".into()));
        }
        // Like Ironic, unknown clean and service steps are accepted here and fail the
        // operation when it starts; unknown deploy steps are refused now.
        let deferred = interface == "deploy" && driver.deploy.defers_unknown_steps();
        if kind == StepKind::Deploy
            && !reserved
            && !deferred
            && !offered
                .iter()
                .any(|s| s.interface == interface && s.step == step)
        {
            return Err(E::InvalidParameterValue(format!(
                "{} step {interface}.{step} is not supported by node's driver; supported steps are: {}",
                kind.name(),
                offered.iter().map(|s| format!("{}.{}", s.interface, s.step)).collect::<Vec<_>>().join(", ")
            )));
        }
        out.push(Step {
            interface: interface.into(),
            step: step.into(),
            args,
            priority,
            abortable: false,
        });
    }
    Ok(out)
}

/// Store the step list to run (index 0 next).
pub fn set_plan(task: &mut NodeTask, kind: StepKind, steps: &[Step]) {
    let dii = &mut task.node.driver_internal_info;
    dii.insert(
        steps_key(kind).into(),
        serde_json::to_value(steps).unwrap_or(Value::Null),
    );
    dii.insert(step_index_key(kind).into(), json!(0));
}

/// The stored step list of `kind`.
pub fn plan(task: &NodeTask, kind: StepKind) -> Vec<Step> {
    task.node
        .driver_internal_info
        .get(steps_key(kind))
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

pub fn clear_plan(task: &mut NodeTask, kind: StepKind) {
    task.node.driver_internal_info.remove(steps_key(kind));
    task.node.driver_internal_info.remove(step_index_key(kind));
    task.node.current_step_mut(kind).clear();
}

/// Run the stored plan from its next step. Done: all ran; Wait/Hold: parked (the index
/// points past the step that parked, so resuming continues after it). Err: the message for
/// `last_error`.
pub async fn run(task: &mut NodeTask, kind: StepKind) -> std::result::Result<Progress, String> {
    // Resuming means the step that parked the node (agent step, hold) has ended well.
    crate::metrics::step_ended(&task.node.uuid, true);
    let steps = plan(task, kind);
    // The running agent's own steps count too: Ironic checks a manual plan against them
    // once the agent is up (IPA offers burn-in, express erase, NVRAM cleaning...).
    let mut offered = offered(&task.driver, kind);
    offered.extend(
        agent_steps(&task.node.driver_internal_info, kind)
            .into_iter()
            .map(|(interface, step)| Step {
                interface,
                step,
                args: Default::default(),
                priority: 0,
                abortable: true,
            }),
    );
    // custom-agent: the agent's own deploy steps are known once it is up.
    let agent_pending = kind == StepKind::Deploy
        && task.driver.deploy.defers_unknown_steps()
        && agent_steps(&task.node.driver_internal_info, kind).is_empty();
    let skip = |s: &Step| s.reserved() || (agent_pending && s.interface == "deploy");
    if let Some(bad) = steps.iter().find(|s| {
        !skip(s)
            && !offered
                .iter()
                .any(|o| o.interface == s.interface && o.step == s.step)
    }) {
        let known: Vec<String> = offered
            .iter()
            .map(|o| format!("{}.{}", o.interface, o.step))
            .collect();
        clear_plan(task, kind);
        return Err(format!("Node {} failed validation of {} steps: step {}.{} is not supported by the node's driver; supported steps are: {}",
            task.node.uuid, kind.name(), bad.interface, bad.step, known.join(", ")));
    }
    let mut index = task
        .node
        .driver_internal_info
        .get(step_index_key(kind))
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    while let Some(step) = steps.get(index) {
        *task.node.current_step_mut(kind) = match serde_json::to_value(step) {
            Ok(Value::Object(o)) => o,
            _ => Default::default(),
        };
        index += 1;
        task.node
            .driver_internal_info
            .insert(step_index_key(kind).into(), json!(index));
        task.save().await.map_err(|e| e.to_string())?;
        // The node's timeline shows every step as it starts.
        let _ = task
            .history(
                crate::model::history::SEVERITY_INFO,
                &format!("{}_step", kind.name()),
                format!(
                    "Running {} step {}.{}",
                    kind.name(),
                    step.interface,
                    step.step
                ),
            )
            .await;
        crate::metrics::step_started(&task.node.uuid, &step.interface, &step.step);
        let started = std::time::Instant::now();
        let outcome = execute(task, step).await;
        if !matches!(outcome, Ok((Progress::Wait | Progress::Hold, _, _))) {
            crate::metrics::step_ended(&task.node.uuid, outcome.is_ok());
        }
        if let Ok((_, bios, firmware)) = &outcome {
            super::records::store(task, bios.clone(), firmware.clone()).await?;
        }
        let outcome = outcome.map(|(p, _, _)| p);
        match outcome {
            Ok(Progress::Done) => {
                // Steps that parked for the agent end at the next step or state change.
                let _ = task
                    .history_timed(
                        crate::model::history::SEVERITY_INFO,
                        &format!("{}_step_end", kind.name()),
                        format!(
                            "Finished {} step {}.{}",
                            kind.name(),
                            step.interface,
                            step.step
                        ),
                        Some(started.elapsed().as_secs_f64()),
                    )
                    .await;
            }
            Ok(parked) => return Ok(parked),
            Err(e) => {
                return Err(format!(
                    "{} step {}.{} failed on node {}: {e}",
                    capitalize(kind.name()),
                    step.interface,
                    step.step,
                    task.node.uuid
                ))
            }
        }
    }
    clear_plan(task, kind);
    Ok(Progress::Done)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// What a step reported besides its progress: a BIOS change, firmware components.
type Reported = (
    Progress,
    Option<crate::drivers::BiosUpdate>,
    Option<Vec<crate::model::firmware::Component>>,
);

/// Run one step; also returns what it read from the hardware.
async fn execute(task: &mut NodeTask, step: &Step) -> std::result::Result<Reported, String> {
    let (driver, mut ctx) = task.ctx();
    let progress = run_step(&driver, &mut ctx, step).await?;
    Ok((progress, ctx.bios_update.take(), ctx.firmware_update.take()))
}

async fn run_step(
    driver: &Driver,
    ctx: &mut crate::drivers::TaskContext<'_>,
    step: &Step,
) -> std::result::Result<Progress, String> {
    match step.step.as_str() {
        "hold" => Ok(Progress::Hold),
        "wait" => {
            let secs = step
                .args
                .get("seconds")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Ok(Progress::Done)
        }
        "power_on" | "power_off" => {
            let target = if step.step == "power_on" {
                POWER_ON
            } else {
                POWER_OFF
            };
            driver
                .power
                .set_power_state(ctx, target, None)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Progress::Done)
        }
        "reboot" => {
            driver
                .power
                .reboot(ctx, false, None)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Progress::Done)
        }
        // Deploy-interface steps see the whole driver (they boot, power and set devices).
        _ if step.interface == "deploy" => driver
            .deploy
            .run_step(driver, ctx, step)
            .await
            .map_err(|e| e.to_string()),
        _ => {
            let iface = driver
                .step_interface(&step.interface)
                .ok_or_else(|| format!("no {} interface", step.interface))?;
            iface
                .execute_step(ctx, step)
                .await
                .map_err(|e| e.to_string())
        }
    }
}
