//! SQL for BIOS settings.

use super::{Store, StoreError};
use crate::model::bios::BiosUpdate;

/// (name, value, created_at, updated_at)
pub type BiosRow = (String, Option<String>, String, Option<String>);

impl Store {
    pub async fn bios_update(
        &self,
        node_id: i64,
        update: BiosUpdate,
        now: String,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            match update {
                BiosUpdate::Reset => {
                    tx.execute("DELETE FROM bios_settings WHERE node_id = ?1", [node_id])?;
                }
                BiosUpdate::Apply(list) => {
                    for (name, value) in list {
                        tx.execute(
                            "INSERT INTO bios_settings (node_id, name, value, created_at) VALUES (?1, ?2, ?3, ?4) \
                             ON CONFLICT(node_id, name) DO UPDATE SET value = ?3, updated_at = ?4",
                            rusqlite::params![node_id, name, value, now],
                        )?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn bios_list(&self, node_id: i64) -> Result<Vec<BiosRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT name, value, created_at, updated_at FROM bios_settings WHERE node_id = ?1 ORDER BY name")?;
            let rows = stmt.query_map([node_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
