//! SQL for BIOS settings and their attribute-registry facts.

use super::{Store, StoreError};
use crate::model::bios::{BiosUpdate, Registry};

/// One stored setting.
#[derive(Debug, Clone, PartialEq)]
pub struct BiosRow {
    pub name: String,
    pub value: Option<String>,
    pub registry: Registry,
    pub created_at: String,
    pub updated_at: Option<String>,
}

const UPSERT: &str = "INSERT INTO bios_settings (node_id, name, value, created_at, attribute_type, \
     allowable_values, lower_bound, upper_bound, min_length, max_length, read_only, reset_required, \"unique\") \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
     ON CONFLICT(node_id, name) DO UPDATE SET updated_at = ?4, value = ?3, attribute_type = ?5, \
     allowable_values = ?6, lower_bound = ?7, upper_bound = ?8, min_length = ?9, max_length = ?10, \
     read_only = ?11, reset_required = ?12, \"unique\" = ?13";

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
                            super::sql::params![node_id, name, value, now],
                        )?;
                    }
                }
                BiosUpdate::Cache(list) => {
                    let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
                    let names = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
                    tx.execute(
                        "DELETE FROM bios_settings WHERE node_id = ?1 AND name NOT IN (SELECT value FROM json_each(?2))",
                        super::sql::params![node_id, names],
                    )?;
                    let mut stmt = tx.prepare_cached(UPSERT)?;
                    for s in list {
                        let r = &s.registry;
                        let allowed = r
                            .allowable_values
                            .as_ref()
                            .and_then(|a| serde_json::to_string(a).ok());
                        stmt.execute(super::sql::params![
                            node_id,
                            s.name,
                            s.value,
                            now,
                            r.attribute_type,
                            allowed,
                            r.lower_bound,
                            r.upper_bound,
                            r.min_length,
                            r.max_length,
                            r.read_only,
                            r.reset_required,
                            r.unique
                        ])?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn bios_list(&self, node_id: i64) -> Result<Vec<BiosRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, value, created_at, updated_at, attribute_type, allowable_values, \
                 lower_bound, upper_bound, min_length, max_length, read_only, reset_required, \"unique\" \
                 FROM bios_settings WHERE node_id = ?1 ORDER BY name",
            )?;
            let rows = stmt.query_map([node_id], |r| {
                let allowed: Option<String> = r.get(5)?;
                Ok(BiosRow {
                    name: r.get(0)?,
                    value: r.get(1)?,
                    created_at: r.get(2)?,
                    updated_at: r.get(3)?,
                    registry: Registry {
                        attribute_type: r.get(4)?,
                        // Written by this file as a JSON list; anything else reads as unknown.
                        allowable_values: allowed.and_then(|a| serde_json::from_str(&a).ok()),
                        lower_bound: r.get(6)?,
                        upper_bound: r.get(7)?,
                        min_length: r.get(8)?,
                        max_length: r.get(9)?,
                        read_only: r.get(10)?,
                        reset_required: r.get(11)?,
                        unique: r.get(12)?,
                    },
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
