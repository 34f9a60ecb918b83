//! SQL for node history.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Row};

use super::{must_find, Store, StoreError};
use crate::model::history::HistoryEvent;

const SELECT: &str = "SELECT h.uuid, n.uuid, h.severity, h.event_type, h.event, h.conductor, h.\"user\", h.state, \
    h.target_provision_state, h.duration_seconds, h.created_at FROM node_history h JOIN nodes n ON n.id = h.node_id";

fn from_row(r: &Row) -> super::sql::Result<HistoryEvent> {
    Ok(HistoryEvent {
        uuid: r.get(0)?,
        node_uuid: r.get(1)?,
        severity: r.get(2)?,
        event_type: r.get(3)?,
        event: r.get(4)?,
        conductor: r.get(5)?,
        user: r.get(6)?,
        state: r.get(7)?,
        target_provision_state: r.get(8)?,
        duration_seconds: r.get(9)?,
        created_at: r.get(10)?,
    })
}

impl Store {
    /// Append an event, pruning the node's oldest entries beyond `keep`. The event text
    /// quotes errors: it is stored with URL passwords masked. Not durable on return:
    /// history may lose its newest rows to a power cut (see `db/mod.rs`).
    pub async fn history_add(&self, mut ev: HistoryEvent, keep: u32) -> Result<(), StoreError> {
        if let std::borrow::Cow::Owned(m) = crate::model::secrets::mask_text(&ev.event) {
            ev.event = m;
        }
        let node = ev.node_uuid.clone();
        self.write_batched(move |tx| {
            let node_id: i64 = must_find(
                tx.query_row("SELECT id FROM nodes WHERE uuid = ?1", [&ev.node_uuid], |r| r.get(0)),
                "Node",
                &ev.node_uuid,
            )?;
            tx.execute(
                "INSERT INTO node_history (uuid, node_id, severity, event_type, event, conductor, \"user\", state, \
                 target_provision_state, duration_seconds, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                super::sql::params![ev.uuid, node_id, ev.severity, ev.event_type, ev.event, ev.conductor, ev.user,
                    ev.state, ev.target_provision_state, ev.duration_seconds, ev.created_at],
            )?;
            tx.execute(
                "DELETE FROM node_history WHERE node_id = ?1 AND id NOT IN \
                 (SELECT id FROM node_history WHERE node_id = ?1 ORDER BY id DESC LIMIT ?2)",
                super::sql::params![node_id, keep],
            )?;
            Ok(())
        })
        .await
        .inspect(|_| self.changed(&node, super::ChangeKind::History))
    }

    /// A node's history, oldest first, after `marker` (an event uuid), at most `limit`.
    pub async fn history_list(
        &self,
        node_uuid: String,
        marker: Option<String>,
        limit: u32,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        self.read(move |conn| {
            let mut args = vec![SqlValue::Text(node_uuid)];
            let mut sql = format!("{SELECT} WHERE n.uuid = ?1");
            if let Some(m) = marker {
                let id: Option<i64> = conn
                    .query_row("SELECT id FROM node_history WHERE uuid = ?1", [&m], |r| {
                        r.get(0)
                    })
                    .ok();
                let id = id.ok_or(StoreError::NotFound {
                    what: "NodeHistory",
                    id: m,
                })?;
                args.push(SqlValue::Integer(id));
                sql.push_str(" AND h.id > ?2");
            }
            sql.push_str(&format!(" ORDER BY h.id LIMIT {limit}"));
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn history_get(
        &self,
        node_uuid: String,
        uuid: String,
    ) -> Result<Option<HistoryEvent>, StoreError> {
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached(&format!("{SELECT} WHERE n.uuid = ?1 AND h.uuid = ?2"))?;
            let mut rows = stmt.query_map([node_uuid, uuid], from_row)?;
            Ok(rows.next().transpose()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::Node;

    #[tokio::test]
    async fn event_text_is_stored_masked() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::db::test_store(dir.path(), 2);
        let n = store
            .node_create(Node {
                uuid: crate::model::new_uuid(),
                driver: "fake-hardware".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let ev = HistoryEvent {
            uuid: crate::model::new_uuid(),
            node_uuid: n.uuid.clone(),
            event: "Failed: http://admin:hunter2@bmc/redfish".into(),
            ..Default::default()
        };
        store.history_add(ev, 10).await.unwrap();
        let got = store.history_list(n.uuid, None, 10).await.unwrap();
        assert_eq!(got[0].event, "Failed: http://admin:******@bmc/redfish");
    }
}
