//! `PUT /v1/nodes/{id}/states/provision`: a pure precheck in Ironic's order, step
//! planning, lock-and-start, and the background flow each verb starts (verify, inspect,
//! clean, deploy, tear down, rescue, adopt, service). Every state change goes through
//! `NodeTask::process_event`.

use serde_json::{json, Value};

use super::fsm::{self, Event};
use super::steps;
use super::task::NodeTask;
use super::{Conductor, ConductorError as E, Result};
use crate::drivers::{Driver, Progress, Step};
use crate::model::history::SEVERITY_ERROR;
use crate::model::node::Node;
use crate::model::states::*;
use crate::model::step::StepKind;

/// The optional parts of a provision request (already type-checked by the API).
#[derive(Debug, Default, Clone)]
pub struct ProvisionArgs {
    pub configdrive: Option<Value>,
    pub clean_steps: Option<Value>,
    pub deploy_steps: Option<Value>,
    pub service_steps: Option<Value>,
    pub rescue_password: Option<String>,
    pub disable_ramdisk: Option<bool>,
}

/// Whether `verb` (`event`) may start on `node` as the API read it, in Ironic's order:
/// maintenance, the state table, protection, retirement. Pure, so every refusal is
/// checked without a store; the state is checked again under the lock.
pub fn precheck(
    node: &Node,
    verb: &str,
    event: Event,
    provision_in_maintenance: bool,
) -> Result<()> {
    let uuid = || node.uuid.clone();
    if matches!(event, Event::Deploy | Event::Rebuild) && node.maintenance {
        return Err(E::NodeInMaintenance {
            op: "provisioning".into(),
            node: uuid(),
        });
    }
    if fsm::next(&node.provision_state, event).is_none() {
        return Err(match &node.reservation {
            Some(host) => E::NodeLocked {
                node: uuid(),
                host: host.clone(),
            },
            None => invalid_state(verb, node),
        });
    }
    if matches!(event, Event::Rebuild | Event::Delete) && node.protected {
        return Err(E::NodeProtected(uuid()));
    }
    if event == Event::Provide && node.retired {
        return Err(E::NodeIsRetired {
            op: "provide".into(),
            node: uuid(),
        });
    }
    if matches!(event, Event::Provide | Event::Clean)
        && node.maintenance
        && !provision_in_maintenance
    {
        return Err(E::NodeInMaintenance {
            op: "cleaning".into(),
            node: uuid(),
        });
    }
    Ok(())
}

fn invalid_state(verb: &str, node: &Node) -> E {
    E::InvalidStateRequested {
        action: verb.to_string(),
        node: node.uuid.clone(),
        state: node.provision_state.clone(),
    }
}

/// The steps a manual clean or a service must be given.
fn required_steps<'a>(steps: &'a Option<Value>, verb: &str) -> Result<&'a Value> {
    steps.as_ref().ok_or_else(|| {
        E::MissingParameterValue(format!(
            "\"{verb}_steps\" is required when setting target provision state to {verb}"
        ))
    })
}

/// What the verb needs from the request beyond its steps: rescue needs a password.
fn required_args(event: Event, args: &ProvisionArgs) -> Result<()> {
    if event == Event::Rescue && args.rescue_password.as_deref().is_none_or(str::is_empty) {
        return Err(E::MissingParameterValue(
            "A non-empty value is required when setting rescue_password".into(),
        ));
    }
    Ok(())
}

impl Conductor {
    /// Start `event` on `node` (looked up by the API). Synchronous checks fail here with
    /// Ironic's error; the work itself runs on a worker and the call returns at once.
    pub async fn node_set_provision_state(
        &self,
        node: Node,
        verb: &str,
        event: Event,
        args: ProvisionArgs,
    ) -> Result<()> {
        let in_maintenance = self.config.conductor.allow_provisioning_in_maintenance;
        precheck(&node, verb, event, in_maintenance)?;
        // The driver is checked before anything changes.
        let driver = self.driver_for(&node)?;
        let plan = self.plan_steps(&driver, &node, event, &args).await?;
        required_args(event, &args)?;
        self.lock_and_start(&node.uuid, verb, event, args, plan)
            .await
    }

    /// The steps a clean, service, deploy or rebuild will run: the user's, checked against
    /// the driver, and for a deploy the deploy templates' and the driver's own.
    async fn plan_steps(
        &self,
        driver: &Driver,
        node: &Node,
        event: Event,
        args: &ProvisionArgs,
    ) -> Result<Option<Vec<Step>>> {
        Ok(match event {
            Event::Clean => {
                let raw = required_steps(&args.clean_steps, "clean")?;
                Some(steps::parse_user_steps(driver, StepKind::Clean, raw)?)
            }
            Event::Service => {
                let raw = required_steps(&args.service_steps, "service")?;
                Some(steps::parse_user_steps(driver, StepKind::Service, raw)?)
            }
            Event::Deploy | Event::Rebuild => {
                // Steps from deploy templates named by the instance traits, then the user's.
                let templated = self.template_steps(node).await?;
                let mut user =
                    steps::parse_user_steps(driver, StepKind::Deploy, &Value::Array(templated))
                        .map_err(|e| {
                            E::InvalidParameterValue(format!(
                                "Validation of deploy templates failed for node {}: {e}",
                                node.uuid
                            ))
                        })?;
                if let Some(raw) = &args.deploy_steps {
                    user.extend(steps::parse_user_steps(driver, StepKind::Deploy, raw)?);
                }
                Some(steps::deploy_steps(driver, &user))
            }
            _ => None,
        })
    }

    /// Take the node's lock, check again what may have moved, validate the interfaces and
    /// start the verb: synchronously for `manage` from a failed verify and `abort`, on a
    /// worker for everything else.
    async fn lock_and_start(
        &self,
        uuid: &str,
        verb: &str,
        event: Event,
        args: ProvisionArgs,
        plan: Option<Vec<Step>>,
    ) -> Result<()> {
        let mut task = self.acquire(uuid, super::task::Wait::Configured).await?;
        // Re-check under the lock: the state may have moved since the API read it.
        if fsm::next(&task.node.provision_state, event).is_none() {
            let e = invalid_state(verb, &task.node);
            task.release().await;
            return Err(e);
        }
        // Ironic keeps the rescue password (and its hash) before validating: the rescue
        // interface checks it there. A refusal below saves nothing.
        if let (Event::Rescue, Some(pw)) = (event, &args.rescue_password) {
            if let Err(e) = super::rescue::keep_password(&mut task, pw) {
                task.release().await;
                return Err(e);
            }
        }
        if let Err(e) = self.validate_for(&mut task, event).await {
            task.release().await;
            return Err(e);
        }
        match event {
            // Synchronous transitions: no background work, so no worker.
            // Ironic keeps last_error here: it explains why the node failed.
            Event::Manage if task.node.provision_state != ENROLL => {
                let r = task.process_event(Event::Manage, None).await;
                task.release().await;
                return r;
            }
            Event::Abort => return self.abort(task).await,
            _ => {}
        }
        // A worker before anything changes: with none free the request is refused (503)
        // and the node is left as it was.
        let slot = match self.workers.reserve() {
            Ok(s) => s,
            Err(e) => {
                task.release().await;
                return Err(e);
            }
        };
        if event == Event::Unhold {
            task.process_event(Event::Unhold, None).await?;
            self.workers.run(slot, resume_after_unhold(task));
            return Ok(());
        }
        task.node.last_error = None;
        if let Some(p) = args.configdrive {
            task.node.instance_info.insert("configdrive".into(), p);
        }
        if let Some(d) = args.disable_ramdisk {
            task.node
                .driver_internal_info
                .insert(crate::model::dii::DISABLE_RAMDISK.into(), json!(d));
        }
        match (event, &plan) {
            (Event::Clean, Some(p)) => steps::set_plan(&mut task, StepKind::Clean, p),
            (Event::Service, Some(p)) => steps::set_plan(&mut task, StepKind::Service, p),
            (Event::Deploy | Event::Rebuild, Some(p)) => {
                steps::set_plan(&mut task, StepKind::Deploy, p)
            }
            _ => {}
        }
        if event == Event::Inspect {
            task.node.inspection_started_at = Some(crate::model::now());
            task.node.inspection_finished_at = None;
        }
        task.process_event(event, None).await?;
        self.workers.run(slot, run_flow(task, event));
        Ok(())
    }

    /// Interface validation Ironic runs before accepting a verb.
    async fn validate_for(&self, task: &mut NodeTask, event: Event) -> Result<()> {
        let (driver, ctx) = task.ctx();
        let checks: Vec<(&str, std::result::Result<(), crate::drivers::DriverError>)> = match event
        {
            Event::Manage | Event::Adopt => vec![
                ("power", driver.power.validate(&ctx).await),
                ("management", driver.management.validate(&ctx).await),
            ],
            Event::Deploy | Event::Rebuild => vec![
                ("power", driver.power.validate(&ctx).await),
                ("deploy", driver.deploy.validate(&ctx).await),
            ],
            Event::Inspect => vec![
                ("power", driver.power.validate(&ctx).await),
                ("inspect", driver.inspect.validate(&ctx).await),
            ],
            // As Ironic: unrescue checks power only (the password is gone by then).
            Event::Rescue => vec![
                ("power", driver.power.validate(&ctx).await),
                ("rescue", driver.rescue.validate(&ctx).await),
            ],
            _ => vec![("power", driver.power.validate(&ctx).await)],
        };
        for (iface, r) in checks {
            if let Err(e) = r {
                return Err(E::InvalidParameterValue(format!(
                    "Failed to validate {iface} interface for node {}: {e}",
                    task.node.uuid
                )));
            }
        }
        Ok(())
    }

    /// `abort` from a wait or hold state.
    async fn abort(&self, mut task: NodeTask) -> Result<()> {
        let state = task.node.provision_state.clone();
        // The FSM allows abort only from wait and hold states among the step states.
        if let Some(k) = StepKind::of_state(&state) {
            steps::clear_plan(&mut task, k);
        }
        if state == RESCUE_WAIT {
            super::rescue::clean_up_on_abort(&mut task).await;
        }
        let r = task
            .process_event(
                Event::Abort,
                Some(format!(
                    "Operation aborted by the user while the node was in \"{state}\"."
                )),
            )
            .await;
        task.release().await;
        r
    }
}

/// The background part of each verb. Ends by moving the node on and releasing it.
async fn run_flow(mut task: NodeTask, event: Event) {
    let outcome = match event {
        Event::Manage => verify(&mut task).await,
        Event::Provide => clean(&mut task, false).await,
        Event::Clean => clean(&mut task, true).await,
        Event::Inspect => inspect(&mut task).await,
        Event::Deploy | Event::Rebuild => deploy(&mut task).await,
        Event::Delete => tear_down(&mut task).await,
        Event::Adopt => adopt(&mut task).await,
        Event::Rescue => super::rescue::rescue(&mut task).await,
        Event::Unrescue => super::rescue::unrescue(&mut task).await,
        Event::Service => {
            // As Ironic: what the hardware holds is read when servicing starts and ends.
            super::records::update_cache(&mut task).await;
            service(&mut task).await
        }
        _ => Ok(()),
    };
    if let Err(msg) = outcome {
        fail(&mut task, msg).await;
    }
    task.release().await;
}

/// Move the node to the failed state for where it is, with `msg` as last_error.
pub(super) async fn fail(task: &mut NodeTask, msg: String) {
    tracing::warn!(node = %task.node.uuid, error = %msg, "operation failed");
    let state = task.node.provision_state.clone();
    // A failed clean or service step puts the node into maintenance (Ironic's fault).
    let fault = match StepKind::of_state(&state) {
        Some(k) if task.node.current_step(k).is_empty() => None,
        Some(StepKind::Clean) => Some("clean failure"),
        Some(StepKind::Service) => Some("service failure"),
        _ => None,
    };
    if let Some(f) = fault {
        task.node.maintenance = true;
        task.node.fault = Some(f.into());
        task.node.maintenance_reason = Some(msg.clone());
    }
    if fsm::next(&state, Event::Fail).is_some() {
        if let Err(e) = task.process_event(Event::Fail, Some(msg.clone())).await {
            tracing::error!(node = %task.node.uuid, error = %e, "could not record failure");
        }
    } else {
        task.node.last_error = Some(msg.clone());
        let _ = task.save().await;
        let _ = task.history(SEVERITY_ERROR, "error", msg).await;
    }
}

type Flow = std::result::Result<(), String>;

fn s(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// enroll → verifying → manageable: the BMC answers and we learn the power state.
async fn verify(task: &mut NodeTask) -> Flow {
    let (driver, mut ctx) = task.ctx();
    let power = driver.power.get_power_state(&mut ctx).await.map_err(|e| {
        format!(
            "Failed to get power state for node {}. Error: {e}",
            ctx.node.uuid
        )
    })?;
    task.node.power_state = Some(power);
    super::records::update_cache(task).await;
    task.process_event(Event::Done, None).await.map_err(s)
}

async fn clean(task: &mut NodeTask, manual: bool) -> Flow {
    if !manual {
        let automated = task
            .node
            .automated_clean
            .unwrap_or(task.conductor.config.conductor.automated_clean);
        let plan = if automated {
            steps::automated_clean_steps(&task.driver)
        } else {
            vec![]
        };
        steps::set_plan(task, StepKind::Clean, &plan);
        task.history(
            crate::model::history::SEVERITY_INFO,
            "automated_cleaning_start",
            format!("Starting automated cleaning with steps={}", describe(&plan)),
        )
        .await
        .map_err(s)?;
    }
    super::records::update_cache(task).await;
    let plan = steps::plan(task, StepKind::Clean);
    let (driver, mut ctx) = task.ctx();
    let ready = driver
        .deploy
        .prepare_cleaning(&driver, &mut ctx, &plan)
        .await
        .map_err(|e| format!("Failed to prepare node {} for cleaning: {e}", ctx.node.uuid))?;
    if ready == Progress::Wait {
        return task.process_event(Event::Wait, None).await.map_err(s);
    }
    continue_clean(task).await
}

/// Carry on with a parked plan of `kind` (after a heartbeat or an unhold).
pub(super) async fn continue_plan(task: &mut NodeTask, kind: StepKind) -> Flow {
    match kind {
        StepKind::Clean => continue_clean(task).await,
        StepKind::Deploy => continue_deploy(task).await,
        StepKind::Service => service(task).await,
    }
}

fn describe(steps: &[Step]) -> String {
    serde_json::to_string(steps).unwrap_or_default()
}

async fn continue_clean(task: &mut NodeTask) -> Flow {
    match steps::run(task, StepKind::Clean).await? {
        Progress::Done => {
            let (driver, mut ctx) = task.ctx();
            driver
                .deploy
                .tear_down_cleaning(&driver, &mut ctx)
                .await
                .map_err(|e| {
                    format!(
                        "Failed to tear down cleaning on node {}: {e}",
                        ctx.node.uuid
                    )
                })?;
            super::records::update_cache(task).await;
            // Manual cleaning (and cleaning of a retired node) ends in manageable.
            let to_manageable = task.node.target_provision_state.as_deref() == Some(MANAGEABLE)
                || task.node.retired;
            task.history(
                crate::model::history::SEVERITY_INFO,
                "cleaning_end",
                "Cleaning completed successfully".into(),
            )
            .await
            .map_err(s)?;
            task.process_event(
                if to_manageable {
                    Event::Manage
                } else {
                    Event::Done
                },
                None,
            )
            .await
            .map_err(s)
        }
        Progress::Wait => task.process_event(Event::Wait, None).await.map_err(s),
        Progress::Hold => task.process_event(Event::Hold, None).await.map_err(s),
    }
}

async fn inspect(task: &mut NodeTask) -> Flow {
    let (driver, mut ctx) = task.ctx();
    let progress = driver
        .inspect
        .start_inspection(&driver, &mut ctx)
        .await
        .map_err(|e| format!("Failed to inspect hardware. Reason: {e}"))?;
    let found = std::mem::take(&mut ctx.discovered);
    super::inspection::out_of_band(task, found).await?;
    match progress {
        Progress::Wait => task.process_event(Event::Wait, None).await.map_err(s),
        _ => {
            task.node.inspection_finished_at = Some(crate::model::now());
            task.process_event(Event::Done, None).await.map_err(s)
        }
    }
}

async fn deploy(task: &mut NodeTask) -> Flow {
    continue_deploy(task).await
}

async fn continue_deploy(task: &mut NodeTask) -> Flow {
    match steps::run(task, StepKind::Deploy).await? {
        Progress::Done => task.process_event(Event::Done, None).await.map_err(s),
        Progress::Wait => task.process_event(Event::Wait, None).await.map_err(s),
        Progress::Hold => task.process_event(Event::Hold, None).await.map_err(s),
    }
}

/// active (or failed) → deleting → cleaning → available.
async fn tear_down(task: &mut NodeTask) -> Flow {
    let (driver, mut ctx) = task.ctx();
    driver
        .deploy
        .tear_down(&driver, &mut ctx)
        .await
        .map_err(|e| format!("Failed to tear down. Error: {e}"))?;
    // The instance is gone: forget what was deployed.
    task.node.instance_info.clear();
    task.node.instance_uuid = None;
    task.conductor
        .allocation_drop_for(&task.node.uuid)
        .await
        .map_err(s)?;
    task.node.instance_name = None;
    steps::clear_plan(task, StepKind::Deploy);
    task.process_event(Event::Clean, None).await.map_err(s)?;
    clean(task, false).await
}

async fn adopt(task: &mut NodeTask) -> Flow {
    let (driver, mut ctx) = task.ctx();
    driver
        .deploy
        .take_over(&driver, &mut ctx)
        .await
        .map_err(|e| {
            format!(
                "Error while attempting to adopt node {}: {e}.",
                ctx.node.uuid
            )
        })?;
    task.process_event(Event::Done, None).await.map_err(s)
}

async fn service(task: &mut NodeTask) -> Flow {
    match steps::run(task, StepKind::Service).await? {
        Progress::Done => {
            super::records::update_cache(task).await;
            task.process_event(Event::Done, None).await.map_err(s)
        }
        Progress::Wait => task.process_event(Event::Wait, None).await.map_err(s),
        Progress::Hold => task.process_event(Event::Hold, None).await.map_err(s),
    }
}

/// After `unhold` the node sits in a wait state; the conductor carries on with the steps.
async fn resume_after_unhold(mut task: NodeTask) {
    let outcome = match StepKind::waiting_in(&task.node.provision_state) {
        None => Err(format!(
            "Cannot resume steps in \"{}\"",
            task.node.provision_state
        )),
        Some(kind) => match task.process_event(Event::Resume, None).await {
            Err(e) => Err(e.to_string()),
            Ok(()) => continue_plan(&mut task, kind).await,
        },
    };
    if let Err(msg) = outcome {
        fail(&mut task, msg).await;
    }
    task.release().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn conductor(dir: &std::path::Path) -> Conductor {
        let cfg = crate::config::Config::parse(&format!("[DEFAULT]\nstate_path = \"{}\"\nhost = \"t\"\n[conductor]\nnode_locked_retry_attempts = 0\n", dir.display()), "t").unwrap();
        let reg = crate::drivers::Registry::from_config(&cfg).unwrap();
        let store = crate::db::Store::open(&cfg.database.connection, 5000, 4).unwrap();
        Conductor::new(store, Arc::new(reg), Arc::new(cfg))
    }

    fn args_for(event: Event) -> ProvisionArgs {
        let steps =
            Some(serde_json::json!([{"interface": "raid", "step": "create_configuration"}]));
        match event {
            Event::Clean => ProvisionArgs {
                clean_steps: steps,
                ..Default::default()
            },
            Event::Service => ProvisionArgs {
                service_steps: steps,
                ..Default::default()
            },
            Event::Rescue => ProvisionArgs {
                rescue_password: Some("pw".into()),
                ..Default::default()
            },
            _ => ProvisionArgs::default(),
        }
    }

    fn node(state: &str) -> Node {
        Node {
            uuid: "n1".into(),
            provision_state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn precheck_follows_the_state_table() {
        assert!(precheck(&node(AVAILABLE), "active", Event::Deploy, false).is_ok());
        let e = precheck(&node(ENROLL), "active", Event::Deploy, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "The requested action \"active\" can not be performed on node \"n1\" while it is in state \"enroll\"."
        );
        // A locked node that cannot move either says who holds it.
        let mut locked = node(ENROLL);
        locked.reservation = Some("c2".into());
        let e = precheck(&locked, "active", Event::Deploy, false).unwrap_err();
        assert!(
            matches!(e, E::NodeLocked { ref host, .. } if host == "c2"),
            "{e:?}"
        );
    }

    #[test]
    fn precheck_refuses_in_ironics_order() {
        // Maintenance before the state table for a deploy.
        let mut n = node(ENROLL);
        n.maintenance = true;
        let e = precheck(&n, "active", Event::Deploy, false).unwrap_err();
        assert!(matches!(e, E::NodeInMaintenance { ref op, .. } if op == "provisioning"));
        // Protected nodes are neither rebuilt nor deleted.
        let mut n = node(ACTIVE);
        n.protected = true;
        assert!(matches!(
            precheck(&n, "deleted", Event::Delete, false),
            Err(E::NodeProtected(_))
        ));
        assert!(precheck(&n, "rescue", Event::Rescue, false).is_ok());
        // A retired node is not made available.
        let mut n = node(MANAGEABLE);
        n.retired = true;
        assert!(matches!(
            precheck(&n, "provide", Event::Provide, false),
            Err(E::NodeIsRetired { .. })
        ));
        // Cleaning in maintenance only where the configuration allows it.
        let mut n = node(MANAGEABLE);
        n.maintenance = true;
        let e = precheck(&n, "clean", Event::Clean, false).unwrap_err();
        assert!(matches!(e, E::NodeInMaintenance { ref op, .. } if op == "cleaning"));
        assert!(precheck(&n, "clean", Event::Clean, true).is_ok());
    }

    #[test]
    fn rescue_needs_a_password() {
        let none = ProvisionArgs::default();
        assert!(matches!(
            required_args(Event::Rescue, &none),
            Err(E::MissingParameterValue(_))
        ));
        let empty = ProvisionArgs {
            rescue_password: Some(String::new()),
            ..Default::default()
        };
        assert!(required_args(Event::Rescue, &empty).is_err());
        assert!(required_args(Event::Rescue, &args_for(Event::Rescue)).is_ok());
        assert!(required_args(Event::Deploy, &none).is_ok());
    }

    /// Every state × every verb: accepted exactly when the table has the edge, otherwise
    /// Ironic's InvalidStateRequested (400), or NodeLocked (409) while the node is locked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_state_and_verb() {
        let dir = tempfile::tempdir().unwrap();
        let c = conductor(dir.path()).await;
        let mut wrong = vec![];
        for state in ALL_PROVISION_STATES {
            for (verb, event, _) in fsm::VERBS {
                for locked in [false, true] {
                    let mut n = Node {
                        uuid: crate::model::new_uuid(),
                        driver: "fake-hardware".into(),
                        provision_state: ENROLL.into(),
                        ..Default::default()
                    };
                    n = c.node_create(n).await.unwrap();
                    n.provision_state = state.to_string();
                    n.reservation = locked.then(|| "elsewhere".to_string());
                    let n = c.store.node_save(n).await.unwrap().unwrap();
                    let r = c
                        .node_set_provision_state(n.clone(), verb, *event, args_for(*event))
                        .await;
                    let allowed = fsm::next(state, *event).is_some();
                    let ok = matches!(
                        (&r, allowed, locked),
                        (Ok(()), true, false)
                            | (Err(E::NodeLocked { .. }), _, true)
                            | (Err(E::InvalidStateRequested { .. }), false, false)
                    );
                    if !ok {
                        wrong.push(format!("{state} + {verb} (locked: {locked}): {r:?}"));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        c.shutdown(std::time::Duration::from_secs(5)).await;
    }
}
