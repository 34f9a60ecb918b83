//! `ironbox db migrate-to postgresql://…`: every table of a SQLite store copied into an
//! empty PostgreSQL database (schema by the same migrations) in one transaction, the id
//! sequences moved past the copied ids, and the row counts of both sides compared.

use super::sql::{params_from_iter, Value};
use super::{Location, Store, StoreError};

/// Rows copied, per table, in copy order.
pub type Copied = Vec<(String, i64)>;

impl Store {
    /// Copy this SQLite store into the PostgreSQL database at `url` (blocking; run it on a
    /// thread of its own). Refuses a target with any row in any table.
    pub fn copy_to_postgres(&self, url: &str) -> Result<Copied, StoreError> {
        let src = self.take()?;
        if src.is_pg() {
            return Err(StoreError::Location(
                "the configured store is already PostgreSQL".into(),
            ));
        }
        let target = Store::open_at(&Location::Postgres(url.to_string()), 5000, 1)?;
        let mut dst = target.take()?;
        // Creation order: a table's foreign keys point at tables copied before it.
        let tables: Vec<String> = src
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY rowid")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for t in &tables {
            let n: i64 = dst.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
            if n > 0 {
                return Err(StoreError::Location(format!(
                    "the target database is not empty (table {t} has {n} rows): migrate-to only fills an empty database"
                )));
            }
        }
        let tx = dst.transaction()?;
        let mut copied = Vec::new();
        for t in &tables {
            let cols: Vec<String> = src
                .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
                .query_map([t], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let list = cols
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            let ph = (1..=cols.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let insert = format!("INSERT INTO {t} ({list}) VALUES ({ph})");
            let rows = src
                .prepare(&format!("SELECT {list} FROM {t}"))?
                .query_map([], |r| {
                    (0..cols.len())
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                })?;
            let mut n = 0i64;
            for row in rows {
                tx.execute(&insert, params_from_iter(row?))?;
                n += 1;
            }
            if cols.iter().any(|c| c == "id") {
                tx.execute_batch(&format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {t}"
                ))?;
            }
            let there: i64 =
                tx.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
            if there != n {
                return Err(StoreError::Corrupt {
                    column: "row count",
                    reason: format!("{t}: {n} rows read, {there} in the target"),
                });
            }
            copied.push((t.clone(), n));
        }
        tx.commit()?;
        self.put_back(src);
        Ok(copied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::Node;

    /// Runs only with `IRONBOX_TEST_PG_URL` (tests/run.sh's PostgreSQL stage).
    #[tokio::test]
    async fn every_row_arrives_and_a_filled_target_is_refused() {
        let Some(url) = std::env::var("IRONBOX_TEST_PG_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite"), 5000, 2).unwrap();
        for i in 0..3 {
            let node = Node {
                uuid: crate::model::new_uuid(),
                name: Some(format!("n{i}")),
                driver: "fake-hardware".into(),
                provision_state: "enroll".into(),
                traits: vec!["CUSTOM_A".into()],
                created_at: crate::model::now(),
                ..Default::default()
            };
            store.node_create(node).await.unwrap();
        }
        // The schema's own copy of the target: a fresh schema of the test database.
        let schema = format!("m_{}", uuid::Uuid::new_v4().simple());
        let target = format!("{url}?options=-c%20search_path%3D{schema}");
        let (s2, admin) = (store.clone(), url.clone());
        let (first, second) = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            c.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
            (s2.copy_to_postgres(&target), s2.copy_to_postgres(&target))
        })
        .join()
        .unwrap();
        let copied = first.unwrap();
        let count = |t: &str| copied.iter().find(|(n, _)| n == t).map(|(_, n)| *n);
        assert_eq!(count("nodes"), Some(3));
        assert_eq!(count("node_traits"), Some(3));
        assert_eq!(count("dhcp_leases"), Some(0));
        let err = second.unwrap_err().to_string();
        assert!(err.contains("not empty (table nodes has 3 rows)"), "{err}");
    }
}
