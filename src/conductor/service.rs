//! Conductor service registration and heartbeat in the conductors table; each heartbeat
//! also re-reads the members (and takes over what dead ones held).

use tokio_util::sync::CancellationToken;

use super::{Conductor, Result};
use crate::model::conductor::Conductor as ConductorRow;

pub struct Heartbeat;

impl Heartbeat {
    /// Register this conductor as online with its hardware types and where it takes RPC,
    /// then read the members so the rings are right before any work starts.
    pub async fn register(c: &Conductor, rpc_address: Option<String>) -> Result<()> {
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
            rpc_address,
        };
        c.store.conductor_register(row).await?;
        c.members_refresh().await?;
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
                    match c.members_refresh().await {
                        Ok(r) if r.taken_over > 0 => tracing::info!(taken_over = r.taken_over, failed = r.failed, "took over nodes of dead conductors"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "reading the conductor members failed"),
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
