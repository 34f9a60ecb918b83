//! The conductor: business logic and the only writer of nodes and what hangs off them.
//! Knows no HTTP. The API hands it requests; the conductor applies Ironic's rules and does
//! the work under a node lock.
//!
//! - `fsm.rs`: the provision state table; `task.rs`: NodeTask (lock, `process_event`)
//! - `provision.rs`: verbs and their flows; `steps.rs`: clean/deploy/service steps
//! - `rescue.rs`: rescue password, rescue/unrescue flows and the agent's finalize
//! - `power.rs`: power and management actions; `inventory.rs`: create/update/delete rules
//! - `allocations.rs`: allocations and deploy templates; `periodic.rs`: reconcilers
//! - `inspection_rules/`: inspection rules and the engine that applies them
//! - `vifs.rs`: VIF attach/list/detach; `indicators.rs`: hardware indicator LEDs
//! - `volume.rs`: volume connectors and targets (boot from volume)
//! - `vmedia.rs`: virtual media attach, detach and status
//! - `console.rs`: serial console sessions shared by their viewers, and their TCP ports
//! - `workers.rs`: the bounded job pool; `hash_ring.rs`; `service.rs`: registration
//! - `members.rs`: the live members, their rings, takeover of a dead member's nodes

mod agent;
mod allocations;
pub mod console;
mod error;
pub mod fsm;
pub mod hash_ring;
mod indicators;
mod inspection;
pub mod inspection_rules;
mod inventory;
pub mod members;
pub use inventory::delete_refusal;
pub mod periodic;
mod power;
pub mod provision;
mod records;
mod rescue;
mod runbooks;
mod service;
mod steps;
mod task;
mod vifs;
mod vmedia;
mod volume;
mod workers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

pub use agent::{AgentHeartbeat, LookupResult};
pub use error::{ConductorError, Result};
pub use inspection::{AUTO_DISCOVERED, POWER_OFF_PENDING};
pub use inspection_rules::RuleScope;
pub use service::Heartbeat;
pub use volume::Volume;

use crate::config::Config;
use crate::db::Store;
use crate::drivers::Registry;
use crate::model::history::HistoryEvent;
use crate::model::validate::Validation;

/// Cheap to clone: shared handles only.
#[derive(Clone)]
pub struct Conductor {
    pub(crate) store: Store,
    pub(crate) registry: Arc<Registry>,
    pub(crate) config: Arc<Config>,
    pub(crate) workers: Arc<workers::Workers>,
    /// The live members and their hash rings (just this one until others register).
    members: Arc<members::Members>,
    /// Where agents reach ironbox and fetch cached images, once the servers listen.
    urls: Arc<std::sync::OnceLock<crate::drivers::Urls>>,
    images: Arc<std::sync::OnceLock<Arc<crate::image::cache::ImageCache>>>,
    /// Per node: when its last heartbeat went to history, and in which provision state
    /// (heartbeats are rate-limited there; see `agent::heartbeat_noteworthy`).
    pub(crate) heartbeats_noted: Arc<std::sync::Mutex<HashMap<String, (Instant, String)>>>,
    consoles: Arc<console::Consoles>,
    /// `[auto_discovery] max_enrollments_per_minute`.
    discovery_limit: Arc<crate::model::rate::PerMinute>,
}

impl Conductor {
    pub fn new(store: Store, registry: Arc<Registry>, config: Arc<Config>) -> Self {
        let workers = Arc::new(workers::Workers::new(config.conductor.workers_pool_size));
        let members = Arc::new(members::Members::alone(
            &config.default.host,
            &config.conductor.conductor_group,
        ));
        let discovery_limit = Arc::new(crate::model::rate::PerMinute::new(
            config.auto_discovery.max_enrollments_per_minute,
        ));
        Conductor {
            store,
            registry,
            config,
            workers,
            members,
            urls: Arc::default(),
            images: Arc::default(),
            heartbeats_noted: Arc::default(),
            consoles: Arc::default(),
            discovery_limit,
        }
    }

    /// Called once the servers listen: where agents and their images are reached.
    pub fn set_urls(&self, urls: crate::drivers::Urls) {
        let _ = self.urls.set(urls);
    }

    /// The image cache deploys download into (set once at start).
    pub fn set_image_cache(&self, cache: Arc<crate::image::cache::ImageCache>) {
        let _ = self.images.set(cache);
    }

    /// What the image cache holds, most recently used first (none before it is set).
    pub fn cached_images(&self) -> Vec<CachedImageListing> {
        let Some(cache) = self.images.get() else {
            return Vec::new();
        };
        cache
            .list()
            .into_iter()
            .map(|l| CachedImageListing {
                source: l.source,
                checksum: l.checksum,
                size: l.size,
                format: l.format,
            })
            .collect()
    }

    /// Stop taking jobs and wait up to `grace` for running ones.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.workers.shutdown(grace).await;
        self.consoles.stop_all();
    }

    /// This conductor's host name.
    pub fn host(&self) -> &str {
        &self.config.default.host
    }

    /// The conductor that owns node `uuid` of conductor group `group`: its primary on the
    /// hash ring of that group's live conductors (none for a group without conductors).
    pub fn owner_of(&self, group: &str, uuid: &str) -> Option<String> {
        self.members
            .with(|v| v.owner(group, uuid).map(str::to_string))
    }

    /// Whether node `uuid` of `group` is this member's to work on.
    pub fn owns(&self, group: &str, uuid: &str) -> bool {
        self.members
            .with(|v| v.owner(group, uuid) == Some(self.host()))
    }

    /// The owner of a node when it is another live member, with where it takes RPC.
    pub fn remote_owner(&self, group: &str, uuid: &str) -> Option<(String, String)> {
        self.members.with(|v| {
            let owner = v.owner(group, uuid)?;
            if owner == self.host() {
                return None;
            }
            Some((owner.to_string(), v.rpc_address(owner)?.to_string()))
        })
    }

    /// Append a node history entry (when history is enabled), pruning old ones. Its uuid,
    /// conductor and time are filled in here.
    pub(crate) async fn record(&self, mut ev: HistoryEvent) -> Result<()> {
        let c = &self.config.conductor;
        if !c.node_history {
            return Ok(());
        }
        ev.uuid = crate::model::new_uuid();
        ev.conductor = Some(self.host().to_string());
        ev.created_at = crate::model::now();
        self.store
            .history_add(ev, c.node_history_max_entries.max(1))
            .await?;
        Ok(())
    }
}

impl Conductor {
    /// Each interface's validate, in the order Ironic reports them (vendor is not listed).
    pub async fn node_validate(
        &self,
        node: &crate::model::node::Node,
    ) -> Result<Vec<(&'static str, Validation)>> {
        let driver = self
            .registry
            .build(node)
            .map_err(|e| ConductorError::InvalidParameterValue(e.to_string()))?;
        let ports = self
            .store
            .port_list(
                crate::db::PortFilter {
                    node_uuid: Some(node.uuid.clone()),
                    ..Default::default()
                },
                crate::db::Page::all(),
            )
            .await?;
        let mut n = node.clone();
        let ctx = crate::drivers::TaskContext::new(&mut n, &ports, &self.config);
        Ok(driver.validate_all(&ctx).await)
    }
}

pub use inventory::MAX_TRAITS;

/// An image the cache holds, as a deploy may name it again: its source and the checksum
/// it was verified against (together, the same cache entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedImageListing {
    pub source: String,
    pub checksum: Option<String>,
    pub size: u64,
    pub format: String,
}

/// What `/v1/drivers/{name}` shows of one interface kind of a hardware type.
pub struct DriverInterface {
    pub kind: &'static str,
    pub default: Option<String>,
    pub enabled: Vec<String>,
}

impl Conductor {
    /// Default and usable implementations per interface kind of an enabled hardware type.
    pub fn driver_interfaces(&self, hardware_type: &str) -> Option<Vec<DriverInterface>> {
        let hw = crate::drivers::hardware_types::find(hardware_type)
            .filter(|h| self.registry.is_enabled_type(h.name))?;
        Some(
            crate::model::node::INTERFACE_KINDS
                .iter()
                .map(|kind| DriverInterface {
                    kind,
                    default: self.registry.default_for(hw, kind).ok(),
                    enabled: self.registry.usable(hw, kind),
                })
                .collect(),
        )
    }

    /// `driver_info` keys a hardware type understands, with their descriptions.
    pub fn driver_properties(&self, hardware_type: &str) -> Vec<(&'static str, &'static str)> {
        crate::drivers::properties(hardware_type)
    }
}
