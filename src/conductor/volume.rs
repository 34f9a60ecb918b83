//! Volume connectors and targets: Ironic's rules on their writes. Creating needs only the
//! node; an update needs the node powered off, a delete the node powered off or in a state
//! nodes may be deleted from, and neither may happen while the node is locked.

use super::{Conductor, ConductorError as E, Result};
use crate::db::{StoreError, VolumeRecord};
use crate::model::node::Node;
use crate::model::states;
use crate::model::volume::{VolumeConnector, VolumeTarget};

/// What the conductor needs of a connector or target besides its row.
pub trait Volume: VolumeRecord + Clone {
    /// How Ironic names it in "volume connector update".
    const NOUN: &'static str;
    fn stamp(&mut self, created: Option<String>, updated: Option<String>);
    /// The Ironic exception for a UNIQUE clash on `column` (`table.column`).
    fn duplicate(&self, column: &str) -> E;
}

impl Volume for VolumeConnector {
    const NOUN: &'static str = "volume connector";

    fn stamp(&mut self, created: Option<String>, updated: Option<String>) {
        if let Some(c) = created {
            self.created_at = c;
        }
        self.updated_at = updated;
    }

    fn duplicate(&self, column: &str) -> E {
        if column.ends_with(".uuid") {
            E::VolumeConnectorAlreadyExists(self.uuid.clone())
        } else {
            E::VolumeConnectorTypeAndIdAlreadyExists {
                connector_type: self.connector_type.clone(),
                connector_id: self.connector_id.clone(),
            }
        }
    }
}

impl Volume for VolumeTarget {
    const NOUN: &'static str = "volume target";

    fn stamp(&mut self, created: Option<String>, updated: Option<String>) {
        if let Some(c) = created {
            self.created_at = c;
        }
        self.updated_at = updated;
    }

    fn duplicate(&self, column: &str) -> E {
        if column.ends_with(".uuid") {
            E::VolumeTargetAlreadyExists(self.uuid.clone())
        } else {
            E::VolumeTargetBootIndexAlreadyExists(self.boot_index)
        }
    }
}

/// Provision states a delete is allowed in whatever the power state (Ironic's
/// DELETE_ALLOWED_STATES, without ironbox's optional `available`).
const DELETE_ANY_POWER: &[&str] = &[states::MANAGEABLE, states::ENROLL, states::ADOPT_FAILED];

fn refused<R: Volume>(verb: &str, node: &Node) -> E {
    E::InvalidStateRequested {
        action: format!("{} {verb}", R::NOUN),
        node: node.uuid.clone(),
        state: node.power_state.clone().unwrap_or_else(|| "None".into()),
    }
}

fn powered_off(node: &Node) -> bool {
    node.power_state.as_deref() == Some(states::POWER_OFF)
}

impl Conductor {
    /// The node a volume write acts on, unlocked (Ironic takes its exclusive lock).
    async fn volume_node(&self, uuid: &str) -> Result<Node> {
        let node = self
            .store
            .node_get(uuid.to_string())
            .await?
            .ok_or_else(|| E::NodeNotFound(uuid.to_string()))?;
        if let Some(host) = &node.reservation {
            return Err(E::NodeLocked {
                node: node.uuid.clone(),
                host: host.clone(),
            });
        }
        Ok(node)
    }

    pub async fn volume_create<R: Volume>(&self, mut item: R) -> Result<R> {
        item.stamp(Some(crate::model::now()), None);
        let probe = item.clone();
        self.store
            .volume_create(item)
            .await
            .map_err(|e| store_error(e, &probe))
    }

    /// Save `new` over `old`. `new` may name another node, which must exist; as in Ironic,
    /// the node the item ends up on is the one locked and that must be powered off.
    pub async fn volume_update<R: Volume>(&self, old: R, mut new: R) -> Result<R> {
        if new.node_uuid() != old.node_uuid() {
            let target = self.store.node_get(new.node_uuid().to_string()).await?;
            if target.is_none() {
                return Err(E::InvalidParameterValue(format!(
                    "Unable to apply the requested node_uuid '{}'. Requested value was invalid.",
                    new.node_uuid()
                )));
            }
        }
        let node = self.volume_node(new.node_uuid()).await?;
        if !powered_off(&node) {
            return Err(refused::<R>("update", &node));
        }
        new.stamp(None, Some(crate::model::now()));
        let probe = new.clone();
        self.store
            .volume_save(new)
            .await
            .map_err(|e| store_error(e, &probe))
    }

    pub async fn volume_delete<R: Volume>(&self, item: R) -> Result<()> {
        let node = self.volume_node(item.node_uuid()).await?;
        if !DELETE_ANY_POWER.contains(&node.provision_state.as_str()) && !powered_off(&node) {
            return Err(refused::<R>("deletion", &node));
        }
        if !self
            .store
            .volume_delete::<R>(item.uuid().to_string())
            .await?
        {
            return Err(E::NotFound(format!(
                "{} {} could not be found.",
                R::WHAT,
                item.uuid()
            )));
        }
        Ok(())
    }
}

fn store_error<R: Volume>(e: StoreError, item: &R) -> E {
    match e {
        StoreError::Duplicate { column } => item.duplicate(&column),
        StoreError::NotFound { what: "Node", id } => {
            E::InvalidParameterValue(format!("Node {id} could not be found."))
        }
        other => E::Store(other),
    }
}
