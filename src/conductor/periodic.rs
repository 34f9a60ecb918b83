//! Reconcilers: they take no input, read the store, act, and are safe to run twice. Each
//! acts only on the nodes this member owns on its group's hash ring.
//! - start-up recovery: release this conductor's stale locks; fail nodes caught mid-work
//! - power sync: compare recorded and real power; force or record; count failures; record
//!   the BMC's health report when it changes
//! - power failure recovery: nodes put in maintenance for power failures are retried
//! - callback timeouts: nodes waiting too long for their agent fail

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::fsm::{self, Event};
use super::task::Wait;
use super::{Conductor, Result};
use crate::db::{NodeFilter, Page};
use crate::model::node::Node;
use crate::model::states::*;

/// States in which power is not synced (the node is being set up or is mid-callback).
const NO_SYNC: &[&str] = &[WAIT_CALLBACK, CLEAN_WAIT, ENROLL, ADOPT_FAILED];

/// Every node this member owns (on its group's ring) matching `filter`.
pub(super) async fn all_nodes(c: &Conductor, filter: NodeFilter) -> Result<Vec<Node>> {
    let mut nodes = group_nodes(c, filter).await?;
    nodes.retain(|n| c.owns(&n.conductor_group, &n.uuid));
    Ok(nodes)
}

/// Every node of this conductor's group matching `filter`, page by page.
async fn group_nodes(c: &Conductor, mut filter: NodeFilter) -> Result<Vec<Node>> {
    filter.conductor_group = Some(c.config.conductor.conductor_group.clone());
    filter.include_children = true;
    let mut out: Vec<Node> = vec![];
    loop {
        let page = Page {
            limit: 1000,
            marker: out.last().map(|n| n.uuid.clone()),
            ..Page::all()
        };
        let batch = c.store.node_list(filter.clone(), page).await?;
        let done = batch.len() < 1000;
        out.extend(batch);
        if done {
            return Ok(out);
        }
    }
}

/// On start: nothing of ours can still be running, so our locks are stale, and nodes left
/// in a working state are moved to its failed state with an explanation. Ours: the nodes
/// we own, and those we held locked (the ring may have moved them while we were away).
pub async fn recover_on_start(c: &Conductor) -> Result<()> {
    let mut mine = group_nodes(c, NodeFilter::default()).await?;
    mine.retain(|n| {
        n.reservation.as_deref() == Some(c.host()) || c.owns(&n.conductor_group, &n.uuid)
    });
    let released = c.store.node_release_all(c.host().to_string()).await?;
    let mut failed = 0;
    for node in mine {
        let stuck = fsm::FAIL_ON_RESTART.contains(&node.provision_state.as_str());
        if !stuck && node.target_power_state.is_none() {
            continue;
        }
        let Ok(mut task) = c.acquire(&node.uuid, Wait::Configured).await else {
            continue;
        };
        let msg = format!(
            "The conductor {} was restarted while node {} was in \"{}\"; the operation was interrupted.",
            c.host(), node.uuid, node.provision_state
        );
        task.node.target_power_state = None;
        if stuck {
            if let Err(e) = task.process_event(Event::Fail, Some(msg)).await {
                tracing::error!(node = %node.uuid, error = %e, "could not fail interrupted node");
            }
            failed += 1;
        } else {
            task.node.last_error = Some(msg);
            let _ = task.save().await;
        }
        task.release().await;
    }
    let resumed = c.allocations_resume().await?;
    tracing::info!(
        released_locks = released,
        failed_nodes = failed,
        resumed_allocations = resumed,
        "start-up recovery done"
    );
    Ok(())
}

/// Consecutive power read failures per node (in memory, as Ironic keeps them).
#[derive(Default)]
pub struct PowerSync {
    failures: Mutex<HashMap<String, u32>>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct SyncSummary {
    pub checked: usize,
    pub changed: usize,
    pub failed: usize,
}

impl PowerSync {
    /// One power sync cycle over this conductor's nodes.
    pub async fn run_once(&self, c: &Conductor) -> Result<SyncSummary> {
        let nodes = all_nodes(
            c,
            NodeFilter {
                maintenance: Some(false),
                ..Default::default()
            },
        )
        .await?;
        let candidates: Vec<Node> = nodes
            .into_iter()
            .filter(|n| n.reservation.is_none() && !NO_SYNC.contains(&n.provision_state.as_str()))
            .collect();
        self.forget_others(&candidates);
        let workers = c.config.conductor.sync_power_state_workers as usize;
        let results: Vec<Outcome> = futures_util::stream::iter(candidates)
            .map(|n| self.sync_one(c, n))
            .buffer_unordered(workers)
            .collect()
            .await;
        let mut s = SyncSummary {
            checked: results.len(),
            ..Default::default()
        };
        for r in results {
            match r {
                Outcome::Same => {}
                Outcome::Changed => s.changed += 1,
                Outcome::Failed => s.failed += 1,
            }
        }
        Ok(s)
    }

    /// Failure counts only for the nodes this cycle checks: a node deleted, put in
    /// maintenance or taken over by another conductor meanwhile would keep its entry forever.
    fn forget_others(&self, nodes: &[Node]) {
        if let Ok(mut f) = self.failures.lock() {
            if !f.is_empty() {
                let live: std::collections::HashSet<&str> =
                    nodes.iter().map(|n| n.uuid.as_str()).collect();
                f.retain(|uuid, _| live.contains(uuid.as_str()));
            }
        }
    }

    async fn sync_one(&self, c: &Conductor, mut node: Node) -> Outcome {
        let Ok(driver) = c.driver_for(&node) else {
            return Outcome::Failed;
        };
        let read = {
            let mut ctx = crate::drivers::TaskContext::new(&mut node, &[], &c.config);
            driver.power.get_power_state(&mut ctx).await
        };
        let actual = match read {
            Ok(p) if p == POWER_ON || p == POWER_OFF => p,
            Ok(other) => {
                return self
                    .failure(c, &node, format!("power state read returned {other:?}"))
                    .await
            }
            Err(e) => return self.failure(c, &node, e.to_string()).await,
        };
        if let Ok(mut f) = self.failures.lock() {
            f.remove(&node.uuid);
        }
        sync_health(c, &driver, &node).await;
        if node.power_state.as_deref() == Some(actual.as_str()) {
            return Outcome::Same;
        }
        // Something changed out of band: take the lock (skip if busy; next cycle retries).
        let Ok(mut task) = c.acquire(&node.uuid, Wait::No).await else {
            return Outcome::Same;
        };
        let recorded = task.node.power_state.clone();
        let force = c.config.conductor.force_power_state_during_sync;
        let outcome = match recorded {
            Some(want) if force && want != actual => {
                let r = {
                    let (driver, mut ctx) = task.ctx();
                    driver.power.set_power_state(&mut ctx, &want, None).await
                };
                let msg = match r {
                    Ok(()) => format!("During sync_power_state, node {} was {actual} but recorded as {want}; it was switched back to {want}.", task.node.uuid),
                    Err(e) => format!("During sync_power_state, node {} was {actual} but recorded as {want}; switching it back failed: {e}", task.node.uuid),
                };
                task.node.power_state = Some(want);
                let _ = task
                    .history(crate::model::history::SEVERITY_INFO, "power_sync", msg)
                    .await;
                Outcome::Changed
            }
            _ => {
                let _ = task.history(crate::model::history::SEVERITY_INFO, "power_sync",
                    format!("During sync_power_state, node {} power state was recorded as {actual} (was {recorded:?}).", task.node.uuid)).await;
                task.node.power_state = Some(actual);
                Outcome::Changed
            }
        };
        let _ = task.save().await;
        task.release().await;
        outcome
    }

    async fn failure(&self, c: &Conductor, node: &Node, error: String) -> Outcome {
        let count = match self.failures.lock() {
            Ok(mut f) => {
                let n = f.entry(node.uuid.clone()).or_insert(0);
                *n += 1;
                *n
            }
            Err(_) => 1,
        };
        tracing::warn!(node = %node.uuid, attempt = count, error = %error, "power state read failed");
        if count >= c.config.conductor.power_state_sync_max_retries.max(1) {
            if let Ok(mut task) = c.acquire(&node.uuid, Wait::No).await {
                let msg = format!("During sync_power_state, max retries exceeded for node {}, node state None does not match expected state '{}'. Updating DB state to 'None' Switching node to maintenance mode. Error: {error}",
                    node.uuid, node.power_state.as_deref().unwrap_or("None"));
                task.node.maintenance = true;
                task.node.fault = Some("power failure".into());
                task.node.maintenance_reason = Some(msg.clone());
                task.node.power_state = None;
                let _ = task
                    .history(crate::model::history::SEVERITY_ERROR, "power_failure", msg)
                    .await;
                let _ = task.save().await;
                task.release().await;
                if let Ok(mut f) = self.failures.lock() {
                    f.remove(&node.uuid);
                }
            }
        }
        Outcome::Failed
    }

    /// Nodes in maintenance for a power failure whose BMC answers again leave maintenance.
    pub async fn recover_power_failures(&self, c: &Conductor) -> Result<usize> {
        let nodes = all_nodes(
            c,
            NodeFilter {
                maintenance: Some(true),
                fault: Some("power failure".into()),
                ..Default::default()
            },
        )
        .await?;
        let mut recovered = 0;
        for mut node in nodes {
            let Ok(driver) = c.driver_for(&node) else {
                continue;
            };
            let read = {
                let mut ctx = crate::drivers::TaskContext::new(&mut node, &[], &c.config);
                driver.power.get_power_state(&mut ctx).await
            };
            let Ok(actual) = read else { continue };
            let Ok(mut task) = c.acquire(&node.uuid, Wait::No).await else {
                continue;
            };
            task.node.maintenance = false;
            task.node.fault = None;
            task.node.maintenance_reason = None;
            task.node.power_state = Some(actual);
            let _ = task
                .history(
                    crate::model::history::SEVERITY_INFO,
                    "power_failure_recovered",
                    format!("Node {} recovered from a power failure", node.uuid),
                )
                .await;
            let _ = task.save().await;
            task.release().await;
            recovered += 1;
        }
        Ok(recovered)
    }
}

enum Outcome {
    Same,
    Changed,
    Failed,
}

/// Fail nodes that waited longer than their callback timeout.
pub async fn check_timeouts(c: &Conductor) -> Result<usize> {
    let cc = &c.config.conductor;
    let limits = [
        (WAIT_CALLBACK, cc.deploy_callback_timeout),
        (CLEAN_WAIT, cc.clean_callback_timeout),
        (INSPECT_WAIT, cc.inspect_wait_timeout),
        (RESCUE_WAIT, cc.rescue_callback_timeout),
        (SERVICE_WAIT, cc.service_callback_timeout),
    ];
    let now = chrono::Utc::now();
    let mut failed = 0;
    for (state, limit) in limits {
        let Some(secs) = limit.map(|d| d.as_secs()) else {
            continue;
        };
        let deadline = crate::model::format_time(now - chrono::Duration::seconds(secs as i64));
        for node in all_nodes(
            c,
            NodeFilter {
                provision_state: Some(state.into()),
                ..Default::default()
            },
        )
        .await?
        {
            let since = if state == INSPECT_WAIT {
                node.inspection_started_at.clone()
            } else {
                node.provision_updated_at.clone()
            };
            if node.reservation.is_some() || since.is_none_or(|t| t > deadline) {
                continue;
            }
            let Ok(mut task) = c.acquire(&node.uuid, Wait::No).await else {
                continue;
            };
            if task.node.provision_state == state {
                let msg = format!("Timeout reached while waiting for callback for node {} (state \"{state}\", {secs} s)", node.uuid);
                if state == RESCUE_WAIT {
                    // As Ironic: the rescue is undone (power off, password and ramdisk gone).
                    super::rescue::undo(&mut task, msg).await;
                    failed += 1;
                } else if task.process_event(Event::Fail, Some(msg)).await.is_ok() {
                    failed += 1;
                }
            }
            task.release().await;
        }
    }
    Ok(failed)
}

/// Run the periodic tasks until cancelled.
pub async fn run(c: Conductor, cancel: CancellationToken) {
    let cc = c.config.conductor.clone();
    let sync = PowerSync::default();
    // First runs come one interval after start, as Ironic's periodic tasks do (start-up
    // recovery has just run; an immediate sync would lock every node at once).
    let every = |s: Option<Duration>| {
        s.map(|s| tokio::time::interval_at(tokio::time::Instant::now() + s, s))
    };
    let mut power = every(cc.sync_power_state_interval);
    let mut recovery = every(cc.power_failure_recovery_interval);
    let secs = cc.check_provision_state_interval;
    let mut timeouts = tokio::time::interval_at(tokio::time::Instant::now() + secs, secs);
    async fn tick(i: &mut Option<tokio::time::Interval>) {
        match i {
            Some(i) => {
                i.tick().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick(&mut power) => match sync.run_once(&c).await {
                Ok(s) if s.changed > 0 || s.failed > 0 => tracing::info!(checked = s.checked, changed = s.changed, failed = s.failed, "power sync"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "power sync failed"),
            },
            _ = tick(&mut recovery) => if let Err(e) = sync.recover_power_failures(&c).await {
                tracing::warn!(error = %e, "power failure recovery failed");
            },
            _ = timeouts.tick() => match check_timeouts(&c).await {
                Ok(n) if n > 0 => tracing::info!(failed = n, "callback timeouts"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "callback timeout check failed"),
            },
        }
    }
}

/// Record the BMC's health report when it changed (Ironic's node_cache_health, run with the
/// power sync): drivers without one are skipped, a failed read changes nothing.
async fn sync_health(c: &Conductor, driver: &crate::drivers::Driver, node: &Node) {
    let mut n = node.clone();
    let read = {
        let mut ctx = crate::drivers::TaskContext::new(&mut n, &[], &c.config);
        driver.management.get_node_health(&mut ctx).await
    };
    let health = match read {
        Ok(h) => h,
        Err(crate::drivers::DriverError::Unsupported { .. }) => return,
        Err(e) => {
            tracing::warn!(node = %node.uuid, error = %e, "could not read the node's health");
            return;
        }
    };
    if health == node.health.as_deref() {
        return;
    }
    // Busy: the next cycle records it.
    let Ok(mut task) = c.acquire(&node.uuid, Wait::No).await else {
        return;
    };
    let old = task.node.health.take();
    task.node.health = health.map(str::to_string);
    let msg = format!(
        "Node health status changed: health='{}' (previously '{}')",
        health.unwrap_or("None"),
        old.as_deref().unwrap_or("None")
    );
    if matches!(health, Some("Warning" | "Critical")) {
        tracing::warn!(node = %node.uuid, health = ?health, "the node's health indicates a problem");
    }
    let _ = task
        .history(crate::model::history::SEVERITY_INFO, "monitoring", msg)
        .await;
    let _ = task.save().await;
    task.release().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_counts_of_nodes_gone_are_forgotten() {
        let sync = PowerSync::default();
        let node = |u: &str| Node {
            uuid: u.into(),
            ..Node::default()
        };
        if let Ok(mut f) = sync.failures.lock() {
            for u in ["a", "b", "deleted"] {
                f.insert(u.into(), 2);
            }
        }
        sync.forget_others(&[node("a"), node("b"), node("c")]);
        let mut left: Vec<String> = sync.failures.lock().unwrap().keys().cloned().collect();
        left.sort();
        assert_eq!(left, ["a", "b"]);
    }
}
