//! SQL for the boot servers: MAC lookups and DHCP leases.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;

use super::sql::OptionalExtension;

use super::{Store, StoreError};
use crate::model::mac::Mac;

/// A MAC's node, as the boot servers need it.
#[derive(Debug, Clone, PartialEq)]
pub struct MacOwner {
    pub node_uuid: String,
    pub provision_state: String,
    pub driver_internal_info: crate::model::JsonObject,
    pub pxe_enabled: bool,
}

/// State and address of the marker row that says a DHCP session is running: present at
/// start = the last one did not stop cleanly (its newest writes may be lost).
const SESSION: &str = "session";

/// A `dhcp_leases` row as stored. States: `reserved` (an address the server may hand out
/// without another write: written ahead of use), `bound`, `declined`; older versions also
/// wrote `offered`.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRow {
    pub ip: String,
    pub mac: String,
    pub state: String,
    pub expires_at: i64,
}

/// One change to the lease table, written behind the DHCP server's in-memory table.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseWrite {
    Reserve {
        ip: Ipv4Addr,
    },
    Bind {
        ip: Ipv4Addr,
        mac: String,
        expires_at: i64,
    },
    Free {
        ip: Ipv4Addr,
    },
    Decline {
        ip: Ipv4Addr,
        expires_at: i64,
    },
}

/// `aa:bb:cc:dd:ee:ff` (lower case, as the API stores port addresses) → the MAC. Other
/// spellings never matched the packet path's lower-case lookups, so they still do not.
fn canonical_mac(s: &str) -> Option<Mac> {
    Mac::parse_strict(s).filter(|m| m.to_string() == s)
}

impl Store {
    /// The node owning port `mac` (lower-case, colon form), if any.
    pub async fn mac_owner(&self, mac: String) -> Result<Option<MacOwner>, StoreError> {
        self.read(move |conn| {
            let row = conn
                .prepare_cached("SELECT n.uuid, n.provision_state, n.driver_internal_info, p.pxe_enabled FROM ports p JOIN nodes n ON n.id = p.node_id WHERE p.address = ?1")?
                .query_row([&mac], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?)))
                .optional()?;
            row.map(|(node_uuid, provision_state, dii, pxe_enabled)| {
                Ok(MacOwner { node_uuid, provision_state, driver_internal_info: super::json_obj(dii, "driver_internal_info")?, pxe_enabled })
            })
            .transpose()
        })
        .await
    }

    /// Whether `mac` is the address of a port of an enrolled node, from an in-memory set of
    /// all port addresses. The set is reloaded only after a port write (see
    /// `Store::ports_changed`), so a lookup is a hash probe. Blocking: for the boot servers'
    /// own threads, never the async runtime (the first call and each reload read SQLite).
    pub fn mac_known_blocking(&self, mac: &Mac) -> Result<bool, StoreError> {
        // Read the generation before loading: a write that commits during the load bumps it
        // again, so the next call reloads instead of trusting a stale set.
        let generation = self.inner.port_changes.load(Ordering::Acquire);
        if let Ok(cache) = self.inner.macs.lock() {
            if let Some((g, set)) = cache.as_ref() {
                if *g == generation {
                    return Ok(set.contains(mac));
                }
            }
        }
        let conn = self.take()?;
        let loaded = (|| {
            let mut stmt = conn.prepare_cached("SELECT address FROM ports")?;
            let mut set = HashSet::new();
            for a in stmt.query_map([], |r| r.get::<_, String>(0))? {
                if let Some(m) = canonical_mac(&a?) {
                    set.insert(m);
                }
            }
            Ok::<_, StoreError>(set)
        })();
        self.put_back(conn);
        let set = loaded?;
        let known = set.contains(mac);
        if let Ok(mut cache) = self.inner.macs.lock() {
            *cache = Some((generation, set));
        }
        Ok(known)
    }

    /// Every lease row, and whether the previous DHCP session ended cleanly (its marker row
    /// is gone). Starts a new session: the marker stays until `lease_session_end_blocking`.
    pub fn lease_session_begin_blocking(&self) -> Result<(Vec<LeaseRow>, bool), StoreError> {
        self.write_blocking(|tx| {
            let unclean: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM dhcp_leases WHERE ip = ?1 AND state = ?1)",
                [SESSION],
                |r| r.get(0),
            )?;
            let mut stmt = tx.prepare(
                "SELECT ip, mac, state, expires_at FROM dhcp_leases WHERE state != ?1",
            )?;
            let rows = stmt
                .query_map([SESSION], |r| {
                    Ok(LeaseRow {
                        ip: r.get(0)?,
                        mac: r.get(1)?,
                        state: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            tx.execute(
                "INSERT INTO dhcp_leases (ip, mac, state, expires_at, updated_at) VALUES (?1, '', ?1, 0, ?2) \
                 ON CONFLICT(ip) DO UPDATE SET mac = '', state = ?1, expires_at = 0, updated_at = ?2",
                super::sql::params![SESSION, crate::model::now()],
            )?;
            Ok((rows, !unclean))
        })
    }

    /// The DHCP server stopped after writing everything: the next start needs no quarantine.
    pub fn lease_session_end_blocking(&self) -> Result<(), StoreError> {
        self.write_blocking(|tx| {
            tx.execute("DELETE FROM dhcp_leases WHERE ip = ?1", [SESSION])?;
            Ok(())
        })
    }

    /// Apply lease changes in order, in one transaction.
    pub fn lease_apply_blocking(&self, writes: &[LeaseWrite]) -> Result<(), StoreError> {
        self.write_blocking(|tx| {
            let now = crate::model::now();
            let mut upsert = tx.prepare_cached(
                "INSERT INTO dhcp_leases (ip, mac, state, expires_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(ip) DO UPDATE SET mac = ?2, state = ?3, expires_at = ?4, updated_at = ?5",
            )?;
            for w in writes {
                match w {
                    LeaseWrite::Reserve { ip } => {
                        upsert.execute(super::sql::params![ip.to_string(), "", "reserved", 0, now])?;
                    }
                    LeaseWrite::Bind { ip, mac, expires_at } => {
                        tx.prepare_cached("DELETE FROM dhcp_leases WHERE mac = ?1 AND ip != ?2 AND state = 'bound'")?
                            .execute(super::sql::params![mac, ip.to_string()])?;
                        upsert.execute(super::sql::params![ip.to_string(), mac, "bound", expires_at, now])?;
                    }
                    LeaseWrite::Free { ip } => {
                        tx.prepare_cached("DELETE FROM dhcp_leases WHERE ip = ?1")?
                            .execute([ip.to_string()])?;
                    }
                    LeaseWrite::Decline { ip, expires_at } => {
                        upsert.execute(super::sql::params![ip.to_string(), "", "declined", expires_at, now])?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Current leases (ip, mac, state, expires_at), for tests and diagnostics.
    pub async fn lease_list(&self) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT ip, mac, state, expires_at FROM dhcp_leases WHERE state != ?1 ORDER BY ip",
            )?;
            let rows = stmt.query_map([SESSION], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
