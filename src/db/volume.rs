//! SQL for volume connectors and targets: one set of statements for both tables, each
//! record saying how its row reads and writes (`VolumeRecord`).

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};

use super::{
    classify, json_obj, json_text, must_find, opt_text, page_sql, Page, Store, StoreError,
};
use crate::model::volume::{VolumeConnector, VolumeTarget};

/// A row of `volume_connectors` or `volume_targets`: its table, columns and conversions.
pub trait VolumeRecord: Sized + Send + 'static {
    /// The table.
    const TABLE: &'static str;
    /// Columns written by insert and update, in `values` order (`node_id` among them).
    const COLS: &'static [&'static str];
    /// The columns read back, after `id, uuid, nodes.uuid` (see `from_row`).
    const READ: &'static [&'static str];
    /// How Ironic names one in "... could not be found.".
    const WHAT: &'static str;

    fn uuid(&self) -> &str;
    fn node_uuid(&self) -> &str;
    fn from_row(r: &Row) -> super::sql::Result<Result<Self, StoreError>>;
    /// The `COLS` values; `node_id` is the node's row id.
    fn values(&self, node_id: i64) -> Vec<SqlValue>;
}

impl VolumeRecord for VolumeConnector {
    const TABLE: &'static str = "volume_connectors";
    const COLS: &'static [&'static str] = &[
        "uuid",
        "node_id",
        "type",
        "connector_id",
        "extra",
        "created_at",
        "updated_at",
    ];
    const READ: &'static [&'static str] =
        &["type", "connector_id", "extra", "created_at", "updated_at"];
    const WHAT: &'static str = "Volume connector";

    fn uuid(&self) -> &str {
        &self.uuid
    }

    fn node_uuid(&self) -> &str {
        &self.node_uuid
    }

    fn from_row(r: &Row) -> super::sql::Result<Result<Self, StoreError>> {
        let extra = match json_obj(r.get(5)?, "extra") {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(VolumeConnector {
            id: r.get(0)?,
            uuid: r.get(1)?,
            node_uuid: r.get(2)?,
            connector_type: r.get(3)?,
            connector_id: r.get(4)?,
            extra,
            created_at: r.get(6)?,
            updated_at: r.get(7)?,
        }))
    }

    fn values(&self, node_id: i64) -> Vec<SqlValue> {
        vec![
            SqlValue::Text(self.uuid.clone()),
            SqlValue::Integer(node_id),
            SqlValue::Text(self.connector_type.clone()),
            SqlValue::Text(self.connector_id.clone()),
            json_text(&self.extra),
            SqlValue::Text(self.created_at.clone()),
            opt_text(&self.updated_at),
        ]
    }
}

impl VolumeRecord for VolumeTarget {
    const TABLE: &'static str = "volume_targets";
    const COLS: &'static [&'static str] = &[
        "uuid",
        "node_id",
        "volume_type",
        "properties",
        "boot_index",
        "volume_id",
        "extra",
        "created_at",
        "updated_at",
    ];
    const READ: &'static [&'static str] = &[
        "volume_type",
        "properties",
        "boot_index",
        "volume_id",
        "extra",
        "created_at",
        "updated_at",
    ];
    const WHAT: &'static str = "Volume target";

    fn uuid(&self) -> &str {
        &self.uuid
    }

    fn node_uuid(&self) -> &str {
        &self.node_uuid
    }

    fn from_row(r: &Row) -> super::sql::Result<Result<Self, StoreError>> {
        let properties = match json_obj(r.get(4)?, "properties") {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let extra = match json_obj(r.get(7)?, "extra") {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(VolumeTarget {
            id: r.get(0)?,
            uuid: r.get(1)?,
            node_uuid: r.get(2)?,
            volume_type: r.get(3)?,
            properties,
            boot_index: r.get(5)?,
            volume_id: r.get(6)?,
            extra,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
        }))
    }

    fn values(&self, node_id: i64) -> Vec<SqlValue> {
        vec![
            SqlValue::Text(self.uuid.clone()),
            SqlValue::Integer(node_id),
            SqlValue::Text(self.volume_type.clone()),
            json_text(&self.properties),
            SqlValue::Integer(self.boot_index),
            SqlValue::Text(self.volume_id.clone()),
            json_text(&self.extra),
            SqlValue::Text(self.created_at.clone()),
            opt_text(&self.updated_at),
        ]
    }
}

/// The list filter both collections take (`?node=`, or a node's nested list).
#[derive(Debug, Default, Clone)]
pub struct VolumeFilter {
    pub node_uuid: Option<String>,
}

fn select<R: VolumeRecord>() -> String {
    let t = R::TABLE;
    let cols: Vec<String> = R::READ.iter().map(|c| format!("{t}.{c}")).collect();
    format!(
        "SELECT {t}.id, {t}.uuid, nodes.uuid, {} FROM {t} JOIN nodes ON nodes.id = {t}.node_id",
        cols.join(", ")
    )
}

fn query<R: VolumeRecord>(
    conn: &Connection,
    sql: &str,
    args: &[SqlValue],
) -> Result<Vec<R>, StoreError> {
    super::query_rows(conn, sql, args, R::from_row)
}

fn by_uuid<R: VolumeRecord>(conn: &Connection, uuid: &str) -> Result<Option<R>, StoreError> {
    let sql = format!("{} WHERE {}.uuid = ?1", select::<R>(), R::TABLE);
    Ok(query(conn, &sql, &[SqlValue::Text(uuid.to_string())])?.pop())
}

fn node_id(conn: &Connection, uuid: &str) -> Result<i64, StoreError> {
    must_find(
        conn.query_row("SELECT id FROM nodes WHERE uuid = ?1", [uuid], |r| r.get(0)),
        "Node",
        uuid,
    )
}

fn saved<R: VolumeRecord>(conn: &Connection, uuid: &str) -> Result<R, StoreError> {
    by_uuid(conn, uuid)?.ok_or_else(|| StoreError::NotFound {
        what: R::WHAT,
        id: uuid.to_string(),
    })
}

impl Store {
    /// INSERT; a missing node is `NotFound { what: "Node" }`, a UNIQUE clash `Duplicate`.
    pub async fn volume_create<R: VolumeRecord>(&self, item: R) -> Result<R, StoreError> {
        self.write(move |tx| {
            let vals = item.values(node_id(tx, item.node_uuid())?);
            let ph: Vec<String> = (1..=vals.len()).map(|i| format!("?{i}")).collect();
            tx.execute(
                &format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    R::TABLE,
                    R::COLS.join(", "),
                    ph.join(",")
                ),
                params_from_iter(vals),
            )
            .map_err(classify)?;
            saved(tx, item.uuid())
        })
        .await
    }

    /// UPDATE every column of the row with `item`'s uuid.
    pub async fn volume_save<R: VolumeRecord>(&self, item: R) -> Result<R, StoreError> {
        self.write(move |tx| {
            let mut vals = item.values(node_id(tx, item.node_uuid())?);
            let sets: Vec<String> = R::COLS
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ?{}", i + 1))
                .collect();
            vals.push(SqlValue::Text(item.uuid().to_string()));
            let sql = format!(
                "UPDATE {} SET {} WHERE uuid = ?{}",
                R::TABLE,
                sets.join(", "),
                vals.len()
            );
            tx.execute(&sql, params_from_iter(vals)).map_err(classify)?;
            saved(tx, item.uuid())
        })
        .await
    }

    pub async fn volume_get<R: VolumeRecord>(&self, uuid: String) -> Result<Option<R>, StoreError> {
        self.read(move |conn| by_uuid(conn, &uuid)).await
    }

    pub async fn volume_list<R: VolumeRecord>(
        &self,
        f: VolumeFilter,
        page: Page,
    ) -> Result<Vec<R>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let mut w = Vec::new();
            if let Some(n) = f.node_uuid {
                args.push(SqlValue::Text(n));
                w.push(format!("nodes.uuid = ?{}", args.len()));
            }
            let tail = page_sql(conn, R::TABLE, &page, R::WHAT, &mut args)?;
            query(conn, &super::list_sql(&select::<R>(), w, tail), &args)
        })
        .await
    }

    /// DELETE by uuid; false when it was already gone.
    pub async fn volume_delete<R: VolumeRecord>(&self, uuid: String) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let n = tx.execute(&format!("DELETE FROM {} WHERE uuid = ?1", R::TABLE), [uuid])?;
            Ok(n > 0)
        })
        .await
    }
}
