//! Change notices: after every committed write of a node, its ports or its history the
//! store broadcasts which node changed, so live views (the UI's SSE streams) re-read just
//! that node instead of polling. Best effort by design: a receiver that falls behind gets
//! `RecvError::Lagged` and must resync from the database; nobody listening costs one
//! atomic load per write.

use tokio::sync::broadcast;

use super::Store;

/// Notices buffered per receiver before it lags (and must resync).
const CAPACITY: usize = 4096;

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The node row (created, saved, traits); its ports may have changed too.
    Node,
    /// The node is gone.
    NodeDeleted,
    /// One of the node's ports was added, changed or removed.
    Port,
    /// A node history event was appended.
    History,
}

/// One committed write, named by the node it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub node_uuid: String,
    pub kind: ChangeKind,
}

pub(super) fn channel() -> broadcast::Sender<Change> {
    broadcast::channel(CAPACITY).0
}

impl Store {
    /// Every change committed from now on, in commit order. A receiver that does not keep
    /// up gets `Lagged` (the missed notices are dropped, not the process): re-read what it
    /// shows and carry on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    /// Called after a commit (never inside the transaction: a notice must not name a write
    /// that could still roll back).
    pub(super) fn changed(&self, node_uuid: &str, kind: ChangeKind) {
        let tx = &self.inner.changes;
        if tx.receiver_count() > 0 {
            // Err only when every receiver is gone in between: nobody to tell.
            let _ = tx.send(Change {
                node_uuid: node_uuid.to_string(),
                kind,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::Node;

    #[tokio::test]
    async fn writes_are_announced_after_commit_and_lag_is_survivable() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::db::test_store(dir.path(), 2);
        let mut rx = store.subscribe();
        let node = Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            provision_state: "enroll".into(),
            created_at: crate::model::now(),
            ..Default::default()
        };
        let node = store.node_create(node).await.unwrap();
        let c = rx.recv().await.unwrap();
        assert_eq!(
            (c.node_uuid.as_str(), c.kind),
            (node.uuid.as_str(), ChangeKind::Node)
        );
        store.node_save(node.clone()).await.unwrap();
        assert_eq!(rx.recv().await.unwrap().kind, ChangeKind::Node);
        store.node_delete(node.id).await.unwrap();
        let c = rx.recv().await.unwrap();
        assert_eq!(
            (c.node_uuid.as_str(), c.kind),
            (node.uuid.as_str(), ChangeKind::NodeDeleted)
        );

        // A receiver that falls more than CAPACITY behind is told so, then gets new notices.
        let mut slow = store.subscribe();
        for _ in 0..=CAPACITY {
            store.changed("x", ChangeKind::Node);
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
        assert!(slow.recv().await.is_ok());
    }
}
