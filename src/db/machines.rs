//! SQL for the operator console's machine list: counts by provision state, and the MACs and
//! leased addresses of a page of nodes (the list itself is `node_list` with a `NodeFilter`,
//! whose `search` and `uuids` exist for the console).

use std::collections::HashMap;

use super::sql::Value as SqlValue;

use super::{Store, StoreError};

/// A listed node's ports and the addresses its MACs hold (bound DHCP leases not expired).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeAddresses {
    pub macs: Vec<String>,
    pub ips: Vec<String>,
}

impl Store {
    /// How many nodes are in each provision state (child nodes included), by state name.
    pub async fn node_counts_by_provision_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(|conn| {
            // Served from the nodes_provision_state index alone.
            let mut stmt = conn.prepare_cached(
                "SELECT provision_state, count(*) FROM nodes GROUP BY provision_state ORDER BY provision_state",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// MACs and leased IPs of these nodes (by UUID); nodes without ports are absent.
    pub async fn node_addresses(
        &self,
        uuids: Vec<String>,
    ) -> Result<HashMap<String, NodeAddresses>, StoreError> {
        if uuids.is_empty() {
            return Ok(HashMap::new());
        }
        self.read(move |conn| {
            let ph: Vec<String> = (1..=uuids.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "SELECT n.uuid, p.address, \
                   (SELECT group_concat(l.ip, ' ') FROM dhcp_leases l WHERE l.mac = p.address \
                     AND l.state = 'bound' AND l.expires_at > CAST(strftime('%s', 'now') AS INTEGER)) \
                 FROM nodes n JOIN ports p ON p.node_id = n.id WHERE n.uuid IN ({}) ORDER BY p.id",
                ph.join(",")
            );
            let mut stmt = conn.prepare(&sql)?;
            let args: Vec<SqlValue> = uuids.into_iter().map(SqlValue::Text).collect();
            let rows = stmt.query_map(super::sql::params_from_iter(args), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            let mut out: HashMap<String, NodeAddresses> = HashMap::new();
            for row in rows {
                let (uuid, mac, ips) = row?;
                let e = out.entry(uuid).or_default();
                e.macs.push(mac);
                e.ips
                    .extend(ips.iter().flat_map(|s| s.split(' ')).map(str::to_string));
            }
            Ok(out)
        })
        .await
    }
}
