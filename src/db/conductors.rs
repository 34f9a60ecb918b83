//! SQL for the conductors table (service registration and heartbeat).

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};

use super::{page_sql, Page, Store, StoreError};
use crate::model::conductor::Conductor;

const SELECT: &str =
    "SELECT hostname, conductor_group, online, drivers, created_at, updated_at FROM conductors";

fn from_row(r: &Row) -> super::sql::Result<Conductor> {
    let drivers: String = r.get(3)?;
    Ok(Conductor {
        hostname: r.get(0)?,
        conductor_group: r.get(1)?,
        online: r.get(2)?,
        drivers: serde_json::from_str(&drivers).unwrap_or_default(),
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
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
                "INSERT INTO conductors (hostname, conductor_group, online, drivers, created_at, updated_at) \
                 VALUES (?1, ?2, 1, ?3, ?4, ?4) \
                 ON CONFLICT(hostname) DO UPDATE SET conductor_group = ?2, online = 1, drivers = ?3, updated_at = ?4",
                super::sql::params![c.hostname, c.conductor_group, drivers, c.created_at],
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
