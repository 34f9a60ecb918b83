//! Conductor service registration and heartbeat in the conductors table.

use tokio_util::sync::CancellationToken;

use super::{Conductor, Result};
use crate::model::conductor::Conductor as ConductorRow;

pub struct Heartbeat;

impl Heartbeat {
    /// Register this conductor as online with its hardware types.
    pub async fn register(c: &Conductor) -> Result<()> {
        let row = ConductorRow {
            hostname: c.host().to_string(),
            conductor_group: c.config.conductor.conductor_group.clone(),
            online: true,
            drivers: c
                .registry
                .hardware_types
                .iter()
                .map(|s| s.to_string())
                .collect(),
            created_at: crate::model::now(),
            updated_at: None,
        };
        c.store.conductor_register(row).await?;
        Ok(())
    }

    /// Touch `updated_at` every `heartbeat_interval` until cancelled, then mark offline.
    pub async fn run(c: Conductor, cancel: CancellationToken) {
        let every = c.config.conductor.heartbeat_interval;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(every) => {
                    if let Err(e) = c.store.conductor_touch(c.host().to_string(), crate::model::now(), true).await {
                        tracing::warn!(error = %e, "conductor heartbeat failed");
                    }
                }
            }
        }
        if let Err(e) = c
            .store
            .conductor_touch(c.host().to_string(), crate::model::now(), false)
            .await
        {
            tracing::warn!(error = %e, "could not mark conductor offline");
        }
    }
}
