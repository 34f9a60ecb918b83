//! NodeTask: all work on a node happens while holding its reservation (the `reservation`
//! column = this conductor's host name, taken with a conditional UPDATE). The task carries
//! the node, its ports and its driver; `process_event` is the ONE place a provision state
//! changes; `release` (or drop, as a safety net) gives the lock back.

use std::borrow::Cow;
use std::time::Duration;

use super::fsm::{self, Event};
use super::{Conductor, ConductorError as E, Result};
use crate::drivers::{Driver, TaskContext};
use crate::model::history::{HistoryEvent, SEVERITY_ERROR, SEVERITY_INFO};
use crate::model::node::Node;
use crate::model::port::Port;
use crate::model::secrets;

pub struct NodeTask {
    pub conductor: Conductor,
    pub node: Node,
    pub ports: Vec<Port>,
    pub driver: Driver,
    released: bool,
}

/// How long `Conductor::acquire` waits for a node another task holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Not at all: NodeLocked at once (periodic tasks skip busy nodes; the next run gets
    /// them).
    No,
    /// Ironic's: `[conductor] node_locked_retry_attempts` more tries,
    /// `node_locked_retry_interval` apart.
    Configured,
    /// Keep trying, every 20 ms, for up to this long (the agent's lookups and heartbeats).
    Up(Duration),
}

/// How often `Wait::Up` tries again.
const WAIT_UP_EVERY: Duration = Duration::from_millis(20);

impl Conductor {
    /// Lock `uuid` for exclusive work, waiting for it as `wait` says; then Ironic's
    /// NodeLocked (409).
    pub async fn acquire(&self, uuid: &str, wait: Wait) -> Result<NodeTask> {
        let c = &self.config.conductor;
        let started = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            match self
                .store
                .node_reserve(uuid.to_string(), self.host().to_string())
                .await?
            {
                Ok(node) => return self.task_for(node).await,
                Err(None) => return Err(E::NodeNotFound(uuid.to_string())),
                Err(Some(holder)) => {
                    attempt += 1;
                    let again = match wait {
                        Wait::No => None,
                        Wait::Configured => (attempt <= c.node_locked_retry_attempts)
                            .then_some(c.node_locked_retry_interval_ms),
                        Wait::Up(within) => (started.elapsed() < within).then_some(WAIT_UP_EVERY),
                    };
                    let Some(pause) = again else {
                        return Err(E::NodeLocked {
                            node: uuid.to_string(),
                            host: holder,
                        });
                    };
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    async fn task_for(&self, node: Node) -> Result<NodeTask> {
        let mut task = NodeTask {
            conductor: self.clone(),
            driver: self.driver_for(&node)?,
            ports: vec![],
            node,
            released: false,
        };
        task.ports = self
            .ports_of(&task.node.uuid)
            .await
            .inspect_err(|_| task.release_now())?;
        Ok(task)
    }

    /// The node's driver; a node whose interfaces no longer resolve cannot be worked on.
    pub(crate) fn driver_for(&self, node: &Node) -> Result<Driver> {
        self.registry
            .build(node)
            .map_err(|e| E::InvalidParameterValue(e.to_string()))
    }

    pub(crate) async fn ports_of(&self, node_uuid: &str) -> Result<Vec<Port>> {
        let filter = crate::db::PortFilter {
            node_uuid: Some(node_uuid.to_string()),
            ..Default::default()
        };
        let page = crate::db::Page::all();
        Ok(self.store.port_list(filter, page).await?)
    }
}

impl NodeTask {
    /// A driver context over this task's node.
    pub fn ctx(&mut self) -> (Driver, TaskContext<'_>) {
        let driver = self.driver.clone();
        let config = &self.conductor.config;
        let mut ctx = TaskContext::new(&mut self.node, &self.ports, config);
        ctx.urls = self.conductor.urls.get().cloned().unwrap_or_default();
        ctx.images = self.conductor.images.get().cloned();
        (driver, ctx)
    }

    /// Persist the node (only while we still hold its lock).
    pub async fn save(&mut self) -> Result<()> {
        self.node.updated_at = Some(crate::model::now());
        // Error text is built from driver errors, which may quote a BMC or image URL with
        // its password: the stored text never holds it.
        for text in [&mut self.node.last_error, &mut self.node.maintenance_reason] {
            if let Some(Cow::Owned(m)) = text.as_deref().map(secrets::mask_text) {
                *text = Some(m);
            }
        }
        let saved = self
            .conductor
            .store
            .node_save_locked(self.node.clone(), self.conductor.host().to_string())
            .await?;
        self.node = saved.ok_or_else(|| E::NodeLocked {
            node: self.node.uuid.clone(),
            host: "another conductor".into(),
        })?;
        Ok(())
    }

    /// Fire `event`: the only code that changes `provision_state`. Sets the target, the
    /// timestamp and (for failures) `last_error`, saves, and records history.
    pub async fn process_event(&mut self, event: Event, error: Option<String>) -> Result<()> {
        let from = self.node.provision_state.clone();
        let to = fsm::next(&from, event).ok_or_else(|| E::InvalidStateRequested {
            action: event.name().to_string(),
            node: self.node.uuid.clone(),
            state: from.clone(),
        })?;
        self.node.target_provision_state = fsm::target_for(
            &from,
            event,
            to,
            self.node.target_provision_state.as_deref(),
        );
        self.node.provision_state = to.to_string();
        self.node.provision_updated_at = Some(crate::model::now());
        if let Some(e) = &error {
            self.node.last_error = Some(e.clone());
        }
        self.save().await?;
        let (severity, text) = match error {
            Some(e) => (SEVERITY_ERROR, e),
            None => (
                SEVERITY_INFO,
                format!("Node moved from \"{from}\" to \"{to}\" ({})", event.name()),
            ),
        };
        self.conductor
            .record(HistoryEvent {
                node_uuid: self.node.uuid.clone(),
                severity: severity.into(),
                event_type: format!("provision_{}", event.name()),
                event: text,
                state: Some(to.to_string()),
                target_provision_state: self.node.target_provision_state.clone(),
                ..Default::default()
            })
            .await?;
        let resting = (fsm::is_resting(&from), fsm::is_resting(to));
        crate::metrics::provision_transition(&self.node.uuid, &from, event.name(), to, resting);
        tracing::info!(node = %self.node.uuid, from = %from, to = %to, event = event.name(), "provision state changed");
        Ok(())
    }

    /// Record a history entry for this node.
    pub async fn history(&self, severity: &str, event_type: &str, text: String) -> Result<()> {
        self.history_timed(severity, event_type, text, None).await
    }

    /// Record a history entry that took `duration_seconds` (a finished step).
    pub async fn history_timed(
        &self,
        severity: &str,
        event_type: &str,
        text: String,
        duration_seconds: Option<f64>,
    ) -> Result<()> {
        self.conductor
            .record(HistoryEvent {
                node_uuid: self.node.uuid.clone(),
                severity: severity.into(),
                event_type: event_type.into(),
                event: text,
                state: Some(self.node.provision_state.clone()),
                target_provision_state: self.node.target_provision_state.clone(),
                duration_seconds,
                ..Default::default()
            })
            .await
    }

    pub async fn release(mut self) {
        self.released = true;
        if let Err(e) = self
            .conductor
            .store
            .node_release(self.node.id, self.conductor.host().to_string())
            .await
        {
            tracing::warn!(node = %self.node.uuid, error = %e, "could not release node lock");
        }
    }

    fn release_now(&mut self) {
        if self.released {
            return;
        }
        self.released = true;
        let (store, id, host) = (
            self.conductor.store.clone(),
            self.node.id,
            self.conductor.host().to_string(),
        );
        // Drop cannot await; hand the release to the runtime (if it is still running).
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = store.node_release(id, host).await;
            });
        }
    }
}

impl Drop for NodeTask {
    fn drop(&mut self) {
        self.release_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::time::Instant;

    async fn conductor(dir: &std::path::Path) -> Conductor {
        let cfg = crate::config::Config::parse(&format!("[DEFAULT]\nstate_path = \"{}\"\nhost = \"t\"\n[conductor]\nnode_locked_retry_attempts = 2\nnode_locked_retry_interval_ms = 50\n", dir.display()), "t").unwrap();
        let reg = crate::drivers::Registry::from_config(&cfg).unwrap();
        let store = crate::db::Store::open(&cfg.database.connection, 5000, 4).unwrap();
        Conductor::new(store, Arc::new(reg), Arc::new(cfg))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saved_error_text_has_no_url_password() {
        let dir = tempfile::tempdir().unwrap();
        let c = conductor(dir.path()).await;
        let n = Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            ..Default::default()
        };
        let n = c.node_create(n).await.unwrap();
        let mut task = c.acquire(&n.uuid, Wait::No).await.unwrap();
        task.node.last_error = Some("GET http://admin:hunter2@10.0.0.5/redfish: refused".into());
        task.save().await.unwrap();
        task.release().await;
        let stored = c.store.node_get(n.uuid.clone()).await.unwrap().unwrap();
        assert_eq!(
            stored.last_error.as_deref(),
            Some("GET http://admin:******@10.0.0.5/redfish: refused")
        );
        c.shutdown(Duration::from_secs(5)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acquire_waits_for_a_locked_node_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let c = conductor(dir.path()).await;
        let n = Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            ..Default::default()
        };
        let n = c.node_create(n).await.unwrap();
        let held = c
            .store
            .node_reserve(n.uuid.clone(), "elsewhere".into())
            .await
            .unwrap();
        assert!(held.is_ok(), "another conductor holds the node");
        let locked = |r: &Result<NodeTask>| matches!(r, Err(E::NodeLocked { host, .. }) if host == "elsewhere");

        let t = Instant::now();
        assert!(locked(&c.acquire(&n.uuid, Wait::No).await));
        assert!(t.elapsed() < Duration::from_millis(50), "no wait");

        let t = Instant::now();
        assert!(locked(&c.acquire(&n.uuid, Wait::Configured).await));
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "two retries 50 ms apart"
        );

        let t = Instant::now();
        assert!(locked(
            &c.acquire(&n.uuid, Wait::Up(Duration::from_millis(150)))
                .await
        ));
        assert!(t.elapsed() >= Duration::from_millis(150));

        // The holder lets go while we wait: we get the node.
        let store = c.store.clone();
        let id = n.id;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            store.node_release(id, "elsewhere".into()).await.unwrap();
        });
        let t = Instant::now();
        let task = c
            .acquire(&n.uuid, Wait::Up(Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(10));
        assert_eq!(task.node.reservation.as_deref(), Some("t"));
        task.release().await;

        assert!(matches!(
            c.acquire("no-such-node", Wait::Up(Duration::from_secs(10)))
                .await,
            Err(E::NodeNotFound(_))
        ));
        c.shutdown(Duration::from_secs(5)).await;
    }
}
