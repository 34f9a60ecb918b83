//! SQL for firmware components (Ironic's firmware_information table).

use super::{Store, StoreError};
use crate::model::firmware::{Component, ComponentRow};

impl Store {
    /// Record components as read from the hardware, by Ironic's rules: a new one starts
    /// with initial_version = current_version; a changed current_version is also the
    /// last version flashed. Components not reported are kept.
    pub async fn firmware_sync(
        &self,
        node_id: i64,
        components: Vec<Component>,
        now: String,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO firmware_information (node_id, component, initial_version, current_version, \
                 vendor, model, serial_number, created_at) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT(node_id, component) DO UPDATE SET \
                 last_version_flashed = CASE WHEN firmware_information.current_version IS NOT ?3 THEN ?3 \
                 ELSE firmware_information.last_version_flashed END, \
                 current_version = ?3, vendor = ?4, model = ?5, serial_number = ?6, updated_at = ?7",
            )?;
            for c in components {
                stmt.execute(super::sql::params![
                    node_id,
                    c.component,
                    c.current_version,
                    c.vendor,
                    c.model,
                    c.serial_number,
                    now
                ])?;
            }
            Ok(())
        })
        .await
    }

    pub async fn firmware_list(&self, node_id: i64) -> Result<Vec<ComponentRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT component, initial_version, current_version, last_version_flashed, vendor, \
                 model, serial_number, created_at, updated_at FROM firmware_information \
                 WHERE node_id = ?1 ORDER BY component",
            )?;
            let rows = stmt.query_map([node_id], |r| {
                Ok(ComponentRow {
                    component: r.get(0)?,
                    initial_version: r.get(1)?,
                    current_version: r.get(2)?,
                    last_version_flashed: r.get(3)?,
                    vendor: r.get(4)?,
                    model: r.get(5)?,
                    serial_number: r.get(6)?,
                    created_at: r.get(7)?,
                    updated_at: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::model::firmware::Component;

    fn c(name: &str, v: &str) -> Component {
        Component {
            component: name.into(),
            current_version: v.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn versions_move_as_ironic_records_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::db::test_store(dir.path(), 2);
        let node = crate::model::node::Node {
            uuid: crate::model::new_uuid(),
            driver: "fake-hardware".into(),
            ..Default::default()
        };
        let id = store.node_create(node).await.unwrap().id;
        store
            .firmware_sync(id, vec![c("bios", "1.0"), c("bmc", "2.0")], "t1".into())
            .await
            .unwrap();
        store
            .firmware_sync(id, vec![c("bios", "1.1"), c("bmc", "2.0")], "t2".into())
            .await
            .unwrap();
        let rows = store.firmware_list(id).await.unwrap();
        let bios = &rows[0];
        assert_eq!(bios.component, "bios");
        assert_eq!(bios.initial_version, "1.0");
        assert_eq!(bios.current_version.as_deref(), Some("1.1"));
        assert_eq!(bios.last_version_flashed.as_deref(), Some("1.1"));
        assert_eq!(bios.updated_at.as_deref(), Some("t2"));
        let bmc = &rows[1];
        assert_eq!(
            (
                bmc.current_version.as_deref(),
                bmc.last_version_flashed.as_deref()
            ),
            (Some("2.0"), None)
        );
    }
}
