//! Auto-discovery: enrolling a machine that no lookup knows (`[auto_discovery]`). The new
//! node's UUID is derived from the machine's lowest MAC (or BMC address), so two racing
//! posts from one machine insert the same UUID and the database keeps exactly one.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::super::{Conductor, ConductorError as E, Result};
use crate::model::node::Node;
use crate::model::states::ENROLL;

/// `driver_internal_info` (and `plugin_data`) flag of a node enrolled by discovery.
pub const AUTO_DISCOVERED: &str = "auto_discovered";

/// The UUID a discovered machine gets: a hash of its identity, in UUID form.
pub fn identity_uuid(macs: &[String], bmc: &[String]) -> Option<String> {
    let key = macs
        .iter()
        .min()
        .map(|m| format!("mac:{m}"))
        .or_else(|| bmc.iter().min().map(|b| format!("bmc:{b}")))?;
    let digest = Sha256::digest(format!("ironbox-discovery:{key}").as_bytes());
    let bytes: [u8; 16] = digest.get(..16)?.try_into().ok()?;
    Some(
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
    )
}

impl Conductor {
    /// Enroll the unknown machine (or find the node a racing post just enrolled for it).
    /// Returns the node and whether this call created it.
    pub(super) async fn discover(&self, macs: &[String], bmc: &[String]) -> Result<(Node, bool)> {
        let uuid = identity_uuid(macs, bmc)
            .ok_or_else(|| E::InvalidParameterValue("No lookup information provided".into()))?;
        if let Some(n) = self.store.node_get(uuid.clone()).await? {
            return Ok((n, false));
        }
        if !self.discovery_limit.allow() {
            tracing::warn!(macs = %macs.join(","), "discovery enrollment refused: [auto_discovery] max_enrollments_per_minute reached");
            crate::metrics::discovery_refused("enrollment");
            return Err(E::DiscoveryRateLimited);
        }
        let cfg = &self.config;
        let mut node = Node {
            uuid: uuid.clone(),
            driver: cfg.auto_discovery.driver.clone(),
            provision_state: ENROLL.into(),
            conductor_group: cfg.conductor.conductor_group.clone(),
            ..Default::default()
        };
        node.driver_internal_info
            .insert(AUTO_DISCOVERED.into(), json!(true));
        match self.node_create(node).await {
            Ok(n) => {
                tracing::info!(node = %n.uuid, driver = %n.driver, macs = %macs.join(", "), bmc = %bmc.join(", "), "enrolled a discovered machine");
                crate::metrics::discovery_enrolled();
                Ok((n, true))
            }
            // A racing post of the same machine won: carry on with its node.
            Err(E::NodeAlreadyExists(_)) => self
                .store
                .node_get(uuid.clone())
                .await?
                .map(|n| (n, false))
                .ok_or_else(|| E::NotFound("Resource could not be found.".into())),
            Err(e) => {
                tracing::error!(error = %e, driver = %cfg.auto_discovery.driver, "cannot enroll a discovered machine");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_machine_one_uuid() {
        let a = identity_uuid(
            &["52:54:00:00:00:02".into(), "52:54:00:00:00:01".into()],
            &[],
        );
        let b = identity_uuid(
            &["52:54:00:00:00:01".into(), "52:54:00:00:00:02".into()],
            &[],
        );
        assert_eq!(a, b);
        assert!(uuid::Uuid::parse_str(a.as_deref().unwrap_or_default()).is_ok());
        assert_ne!(a, identity_uuid(&["52:54:00:00:00:03".into()], &[]));
        assert!(identity_uuid(&[], &["10.0.0.5".into()]).is_some());
        assert_eq!(identity_uuid(&[], &[]), None);
    }
}
