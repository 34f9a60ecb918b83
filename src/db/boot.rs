//! SQL for the boot servers: MAC lookups and DHCP leases.

use std::net::Ipv4Addr;

use rusqlite::OptionalExtension;

use super::{Store, StoreError};

/// A MAC's node, as the boot servers need it.
#[derive(Debug, Clone, PartialEq)]
pub struct MacOwner {
    pub node_uuid: String,
    pub provision_state: String,
    pub driver_internal_info: crate::model::JsonObject,
    pub pxe_enabled: bool,
}

fn ip_u32(ip: Ipv4Addr) -> u32 {
    u32::from(ip)
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

    /// The address for `mac` in [first, last]: its current lease, else the lowest free one,
    /// held as "offered" for `hold` seconds. None when the range is full.
    pub async fn lease_offer(
        &self,
        mac: String,
        first: Ipv4Addr,
        last: Ipv4Addr,
        now: i64,
        hold: i64,
    ) -> Result<Option<Ipv4Addr>, StoreError> {
        self.write(move |tx| {
            tx.execute("DELETE FROM dhcp_leases WHERE expires_at < ?1", [now])?;
            let mine: Option<(String, String)> = tx
                .query_row("SELECT ip, state FROM dhcp_leases WHERE mac = ?1 AND state != 'declined'", [&mac], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((ip, _)) = mine {
                if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                    if (ip_u32(first)..=ip_u32(last)).contains(&ip_u32(ip)) {
                        return Ok(Some(ip));
                    }
                }
                tx.execute("DELETE FROM dhcp_leases WHERE mac = ?1", [&mac])?;
            }
            let mut used = std::collections::HashSet::new();
            let mut stmt = tx.prepare("SELECT ip FROM dhcp_leases")?;
            for ip in stmt.query_map([], |r| r.get::<_, String>(0))? {
                if let Ok(ip) = ip?.parse::<Ipv4Addr>() {
                    used.insert(ip_u32(ip));
                }
            }
            let Some(free) = (ip_u32(first)..=ip_u32(last)).find(|i| !used.contains(i)) else { return Ok(None) };
            let ip = Ipv4Addr::from(free);
            tx.execute(
                "INSERT INTO dhcp_leases (ip, mac, state, expires_at, updated_at) VALUES (?1, ?2, 'offered', ?3, ?4)",
                rusqlite::params![ip.to_string(), mac, now + hold, crate::model::now()],
            )?;
            Ok(Some(ip))
        })
        .await
    }

    /// Bind `ip` to `mac` for `secs` if it is free or already this client's. False = NAK.
    pub async fn lease_bind(
        &self,
        mac: String,
        ip: Ipv4Addr,
        first: Ipv4Addr,
        last: Ipv4Addr,
        now: i64,
        secs: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            if !(ip_u32(first)..=ip_u32(last)).contains(&ip_u32(ip)) {
                return Ok(false);
            }
            let holder: Option<(String, i64)> = tx
                .query_row("SELECT mac, expires_at FROM dhcp_leases WHERE ip = ?1", [ip.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((m, expires)) = holder {
                if m != mac && expires >= now {
                    return Ok(false);
                }
            }
            tx.execute("DELETE FROM dhcp_leases WHERE mac = ?1 AND ip != ?2 AND state != 'declined'", rusqlite::params![mac, ip.to_string()])?;
            tx.execute(
                "INSERT INTO dhcp_leases (ip, mac, state, expires_at, updated_at) VALUES (?1, ?2, 'bound', ?3, ?4) \
                 ON CONFLICT(ip) DO UPDATE SET mac = ?2, state = 'bound', expires_at = ?3, updated_at = ?4",
                rusqlite::params![ip.to_string(), mac, now + secs, crate::model::now()],
            )?;
            Ok(true)
        })
        .await
    }

    pub async fn lease_release(&self, mac: String) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM dhcp_leases WHERE mac = ?1 AND state != 'declined'",
                [mac],
            )?;
            Ok(())
        })
        .await
    }

    /// The client found `ip` in use by someone else: keep it out of the pool for `secs`.
    pub async fn lease_decline(&self, ip: Ipv4Addr, now: i64, secs: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO dhcp_leases (ip, mac, state, expires_at, updated_at) VALUES (?1, '', 'declined', ?2, ?3) \
                 ON CONFLICT(ip) DO UPDATE SET mac = '', state = 'declined', expires_at = ?2, updated_at = ?3",
                rusqlite::params![ip.to_string(), now + secs, crate::model::now()],
            )?;
            Ok(())
        })
        .await
    }

    /// Current leases (ip, mac, state, expires_at), for tests and diagnostics.
    pub async fn lease_list(&self) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT ip, mac, state, expires_at FROM dhcp_leases ORDER BY ip")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
