//! SQL for the conductors table (service registration and heartbeat).

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, OptionalExtension, Row};

use super::{page_sql, Page, Store, StoreError};
use crate::model::conductor::Conductor;

const SELECT: &str =
    "SELECT hostname, conductor_group, online, drivers, created_at, updated_at, rpc_address FROM conductors";

fn from_row(r: &Row) -> super::sql::Result<Conductor> {
    let drivers: String = r.get(3)?;
    Ok(Conductor {
        hostname: r.get(0)?,
        conductor_group: r.get(1)?,
        online: r.get(2)?,
        drivers: serde_json::from_str(&drivers).unwrap_or_default(),
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        rpc_address: r.get(6)?,
    })
}

fn query(conn: &Connection, sql: &str, args: &[SqlValue]) -> Result<Vec<Conductor>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params_from_iter(args), from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

impl Store {
    /// Register (or re-register after a restart) this conductor as online.
    pub async fn conductor_register(&self, c: Conductor) -> Result<(), StoreError> {
        self.write(move |tx| {
            let drivers = serde_json::Value::from(c.drivers.clone()).to_string();
            tx.execute(
                "INSERT INTO conductors (hostname, conductor_group, online, drivers, created_at, updated_at, rpc_address) \
                 VALUES (?1, ?2, 1, ?3, ?4, ?4, ?5) \
                 ON CONFLICT(hostname) DO UPDATE SET conductor_group = ?2, online = 1, drivers = ?3, updated_at = ?4, rpc_address = ?5",
                super::sql::params![c.hostname, c.conductor_group, drivers, c.created_at, c.rpc_address],
            )?;
            Ok(())
        })
        .await
    }

    /// The conductor's heartbeat (not durable: the next one, or the next restart, redoes it).
    pub async fn conductor_touch(
        &self,
        hostname: String,
        now: String,
        online: bool,
    ) -> Result<(), StoreError> {
        self.write_batched(move |tx| {
            tx.execute(
                "UPDATE conductors SET updated_at = ?2, online = ?3 WHERE hostname = ?1",
                super::sql::params![hostname, now, online],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn conductor_get(&self, hostname: String) -> Result<Option<Conductor>, StoreError> {
        self.read(move |conn| {
            Ok(query(
                conn,
                &format!("{SELECT} WHERE hostname = ?1"),
                &[SqlValue::Text(hostname)],
            )?
            .pop())
        })
        .await
    }

    /// Every registered conductor, alive or not (the members' view of each other).
    pub async fn conductor_list_all(&self) -> Result<Vec<Conductor>, StoreError> {
        self.read(|conn| query(conn, &format!("{SELECT} ORDER BY hostname"), &[]))
            .await
    }

    pub async fn conductor_list(&self, page: Page) -> Result<Vec<Conductor>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            // Conductors page by hostname (they have no uuid).
            let mut p = page.clone();
            let marker = p.marker.take();
            let (_, tail) = page_sql(conn, "conductors", &p, "Conductor", &mut args)?;
            let mut sql = SELECT.to_string();
            if let Some(m) = marker {
                let exists: bool = conn.query_row(
                    "SELECT EXISTS(SELECT 1 FROM conductors WHERE hostname = ?1)",
                    [&m],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Err(StoreError::NotFound {
                        what: "Conductor",
                        id: m,
                    });
                }
                args.push(SqlValue::Text(m));
                let op = if p.descending { "<" } else { ">" };
                sql.push_str(&format!(
                    " WHERE conductors.id {op} (SELECT id FROM conductors WHERE hostname = ?{})",
                    args.len()
                ));
            }
            sql.push_str(&tail);
            query(conn, &sql, &args)
        })
        .await
    }
}

/// A node whose lock a (dead) member holds, as takeover needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldNode {
    pub uuid: String,
    pub conductor_group: String,
    pub holder: String,
}

impl Store {
    /// Nodes locked by any of `hosts` (members found dead), for their new owners.
    pub async fn nodes_held_by(&self, hosts: Vec<String>) -> Result<Vec<HeldNode>, StoreError> {
        if hosts.is_empty() {
            return Ok(vec![]);
        }
        self.read(move |conn| {
            let marks: Vec<String> = (1..=hosts.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "SELECT uuid, conductor_group, reservation FROM nodes WHERE reservation IN ({}) ORDER BY id",
                marks.join(", ")
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(hosts.iter()), |r| {
                Ok(HeldNode {
                    uuid: r.get(0)?,
                    conductor_group: r.get(1)?,
                    holder: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Break the lock `holder` has on a node (only if it still holds it): the new owner's
    /// first step in taking over from a dead member. True if the lock was broken.
    pub async fn node_break_lock(&self, uuid: String, holder: String) -> Result<bool, StoreError> {
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE nodes SET reservation = NULL WHERE uuid = ?1 AND reservation = ?2",
                super::sql::params![uuid, holder],
            )? == 1)
        })
        .await
    }
}

impl Store {
    /// The node (uuid, conductor group) a MAC is a port of. Blocking: for the DHCP threads,
    /// which ask only when members share the boot network.
    pub fn mac_node_blocking(
        &self,
        mac: &crate::model::mac::Mac,
    ) -> Result<Option<(String, String)>, StoreError> {
        let conn = self.take()?;
        let row = conn
            .prepare_cached(
                "SELECT n.uuid, n.conductor_group FROM ports p JOIN nodes n ON n.id = p.node_id WHERE p.address = ?1",
            )
            .and_then(|mut st| {
                st.query_row([mac.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            });
        self.put_back(conn);
        Ok(row?)
    }
}
