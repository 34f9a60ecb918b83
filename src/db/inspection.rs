//! SQL for inspection processing: finding the node a ramdisk's BMC addresses belong to,
//! and saving an inspection's outcome (node, ports, inventory) in one transaction.

use super::sql::OptionalExtension;
use serde_json::Value;

use super::{ChangeKind, Store, StoreError};
use crate::model::node::Node;
use crate::model::port::Port;

/// What an inspection saved, or why nothing was.
#[derive(Debug)]
pub enum InspectionSaved {
    Saved {
        node: Box<Node>,
        ports: Vec<Port>,
        /// MACs not added because another node's port has them (Ironic logs and skips).
        skipped: Vec<String>,
    },
    /// The lock was lost (nothing written).
    LockLost,
}

/// The host part of a BMC address as driver_info holds it (`10.0.0.5`, `[fd00::5]:623`,
/// `https://bmc.example/redfish/v1`): what an inventory's `bmc_address` would say.
fn bmc_host(v: &str) -> String {
    let v = v.trim();
    let rest = v.split_once("://").map_or(v, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    let host = match host.rsplit_once('@') {
        Some((_, h)) => h,
        None => host,
    };
    if let Some(b) = host.strip_prefix('[') {
        return b.split(']').next().unwrap_or(b).to_lowercase();
    }
    // host:port, but a bare IPv6 address has several colons.
    match host.matches(':').count() {
        1 => host.split(':').next().unwrap_or(host).to_lowercase(),
        _ => host.to_lowercase(),
    }
}

impl Store {
    /// UUIDs of nodes whose BMC is at one of `addresses`: a `driver_info` `*_address`
    /// naming it (Ironic's lookup), or the BMC address of its stored inventory.
    pub async fn node_uuids_by_bmc(
        &self,
        addresses: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |conn| {
            let wanted: Vec<String> = addresses.iter().map(|a| bmc_host(a)).collect();
            let mut out: Vec<String> = vec![];
            let mut by_inventory = conn.prepare_cached(
                "SELECT nodes.uuid FROM node_inventory JOIN nodes ON nodes.id = node_inventory.node_id \
                 WHERE json_extract(node_inventory.inventory, '$.bmc_address') = ?1 \
                    OR json_extract(node_inventory.inventory, '$.bmc_v6address') = ?1",
            )?;
            let mut by_info = conn.prepare_cached(
                "SELECT uuid, driver_info FROM nodes WHERE instr(lower(driver_info), ?1) > 0",
            )?;
            for a in &wanted {
                for u in by_inventory.query_map([a], |r| r.get::<_, String>(0))? {
                    out.push(u?);
                }
                let rows = by_info.query_map([a], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                for row in rows {
                    let (uuid, info) = row?;
                    let info: Value = serde_json::from_str(&info).unwrap_or(Value::Null);
                    let hit = info.as_object().into_iter().flatten().any(|(k, v)| {
                        k.ends_with("_address") && v.as_str().is_some_and(|s| bmc_host(s) == *a)
                    });
                    if hit {
                        out.push(uuid);
                    }
                }
            }
            out.sort();
            out.dedup();
            Ok(out)
        })
        .await
    }

    /// Save an inspection's outcome at once, while `holder` holds the node's lock: the
    /// node, its ports as `ports` lists them (id 0 = new; ports of the node not listed are
    /// deleted), its traits, and the inventory with plugin_data.
    pub async fn inspection_save(
        &self,
        node: Node,
        holder: String,
        ports: Vec<Port>,
        inventory: Value,
        plugin_data: Value,
        now: String,
    ) -> Result<InspectionSaved, StoreError> {
        let node_uuid = node.uuid.clone();
        let saved = self
            .write(move |tx| {
                if super::nodes::save_node(tx, &node, Some(holder))?.is_none() {
                    return Ok(InspectionSaved::LockLost);
                }
                // Rules may add or remove traits: the node's set is replaced with the rest.
                tx.execute("DELETE FROM node_traits WHERE node_id = ?1", [node.id])?;
                for t in &node.traits {
                    tx.execute(
                        "INSERT INTO node_traits (node_id, trait, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                        super::sql::params![node.id, t, now],
                    )?;
                }
                let saved = super::nodes::node_by_id(tx, node.id)?;
                let keep: Vec<i64> = ports.iter().map(|p| p.id).filter(|id| *id != 0).collect();
                for old in super::ports::of_node(tx, node.id)? {
                    if !keep.contains(&old.id) {
                        tx.execute("DELETE FROM ports WHERE id = ?1", [old.id])?;
                    }
                }
                let mut skipped = vec![];
                for p in &ports {
                    if p.id != 0 {
                        super::ports::update(tx, p)?;
                        continue;
                    }
                    let taken: Option<i64> = tx
                        .query_row("SELECT id FROM ports WHERE address = ?1", [&p.address], |r| r.get(0))
                        .optional()?;
                    if taken.is_some() {
                        skipped.push(p.address.clone());
                        continue;
                    }
                    let mut p = p.clone();
                    p.created_at = now.clone();
                    p.updated_at = None;
                    super::ports::insert(tx, &p)?;
                }
                tx.execute(
                    "INSERT INTO node_inventory (node_id, inventory, plugin_data, created_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT(node_id) DO UPDATE SET inventory = ?2, plugin_data = ?3, updated_at = ?4",
                    super::sql::params![node.id, inventory.to_string(), plugin_data.to_string(), now],
                )?;
                Ok(InspectionSaved::Saved {
                    ports: super::ports::of_node(tx, node.id)?,
                    node: Box::new(saved),
                    skipped,
                })
            })
            .await;
        self.ports_changed();
        if let Ok(InspectionSaved::Saved { .. }) = &saved {
            self.changed(&node_uuid, ChangeKind::Node);
            self.changed(&node_uuid, ChangeKind::Port);
        }
        saved
    }
}

#[cfg(test)]
mod tests {
    use super::bmc_host;

    #[test]
    fn bmc_hosts_as_an_inventory_names_them() {
        for (given, host) in [
            ("10.0.0.5", "10.0.0.5"),
            ("10.0.0.5:623", "10.0.0.5"),
            ("https://BMC.example:8443/redfish/v1", "bmc.example"),
            ("redfish+https://u@10.1.1.1/x", "10.1.1.1"),
            ("[fd00::5]:623", "fd00::5"),
            ("fd00::5", "fd00::5"),
        ] {
            assert_eq!(bmc_host(given), host, "{given}");
        }
    }
}
