//! SQL for the inventory in-band inspection stored per node.

use serde_json::Value;

use super::{Store, StoreError};

impl Store {
    /// Replace the node's inventory and plugin data.
    pub async fn inventory_save(
        &self,
        node_id: i64,
        inventory: Value,
        plugin_data: Value,
        now: String,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO node_inventory (node_id, inventory, plugin_data, created_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(node_id) DO UPDATE SET inventory = ?2, plugin_data = ?3, updated_at = ?4",
                super::sql::params![node_id, inventory.to_string(), plugin_data.to_string(), now],
            )?;
            Ok(())
        })
        .await
    }

    /// (inventory, plugin_data) when the node was inspected.
    pub async fn inventory_get(&self, node_id: i64) -> Result<Option<(Value, Value)>, StoreError> {
        self.read(move |conn| {
            let row: Option<(String, String)> = super::sql::OptionalExtension::optional(
                conn.prepare_cached(
                    "SELECT inventory, plugin_data FROM node_inventory WHERE node_id = ?1",
                )?
                .query_row([node_id], |r| Ok((r.get(0)?, r.get(1)?))),
            )?;
            Ok(row.map(|(i, p)| {
                (
                    serde_json::from_str(&i).unwrap_or(Value::Null),
                    serde_json::from_str(&p).unwrap_or(Value::Null),
                )
            }))
        })
        .await
    }
}
