//! Background jobs (deploys, cleans, power actions): bounded by `[conductor]
//! workers_pool_size`, tracked so shutdown can wait for them. A full pool answers Ironic's
//! NoFreeConductorWorker (503) instead of queueing without bound.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::{ConductorError, Result};

/// A reserved worker.
pub struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

pub struct Workers {
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
}

impl Workers {
    pub fn new(size: u32) -> Self {
        Workers {
            slots: Arc::new(Semaphore::new(size as usize)),
            tracker: TaskTracker::new(),
        }
    }

    /// Start `job` if a worker is free.
    pub fn spawn<F>(&self, job: F) -> Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let slot = self.reserve()?;
        self.run(slot, job);
        Ok(())
    }

    /// Take a worker before changing anything, so a full pool refuses the request with the
    /// node untouched (as Ironic does) instead of failing a node already moved on.
    pub fn reserve(&self) -> Result<Slot> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map(|p| Slot { _permit: p })
            .map_err(|_| ConductorError::NoFreeConductorWorker)
    }

    /// Run `job` on a reserved worker.
    pub fn run<F>(&self, slot: Slot, job: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(async move {
            job.await;
            drop(slot);
        });
    }

    /// Jobs running now.
    #[cfg(test)]
    pub fn busy(&self) -> usize {
        self.tracker.len()
    }

    /// Stop accepting jobs and wait up to `grace` for running ones. Jobs cut short leave
    /// their node in a transient state; the next start fails it with an explanation.
    pub async fn shutdown(&self, grace: Duration) {
        self.slots.close();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.tracker.len(),
                "shutting down with jobs still running"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_pool_refuses_instead_of_queueing() {
        let w = Workers::new(2);
        let (tx, rx) = tokio::sync::watch::channel(false);
        for _ in 0..2 {
            let mut rx = rx.clone();
            w.spawn(async move {
                let _ = rx.wait_for(|v| *v).await;
            })
            .unwrap();
        }
        assert!(matches!(
            w.spawn(async {}),
            Err(ConductorError::NoFreeConductorWorker)
        ));
        tx.send(true).unwrap();
        w.shutdown(Duration::from_secs(5)).await;
        assert_eq!(w.busy(), 0);
    }
}
