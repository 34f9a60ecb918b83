//! SQL for allocations.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, OptionalExtension, Row};

use super::{classify, json_obj, json_text, opt_text, page_sql, Page, Store, StoreError};
use crate::model::allocation::Allocation;

const SELECT: &str = "SELECT allocations.id, allocations.uuid, allocations.name, n.uuid, allocations.resource_class, \
    allocations.traits, allocations.candidate_nodes, allocations.state, allocations.last_error, allocations.owner, \
    allocations.extra, allocations.created_at, allocations.updated_at FROM allocations LEFT JOIN nodes n ON n.id = allocations.node_id";

fn list(s: String) -> Vec<String> {
    serde_json::from_str(&s).unwrap_or_default()
}

fn from_row(r: &Row) -> super::sql::Result<Result<Allocation, StoreError>> {
    let extra = match json_obj(r.get(10)?, "extra") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Allocation {
        id: r.get(0)?,
        uuid: r.get(1)?,
        name: r.get(2)?,
        node_uuid: r.get(3)?,
        resource_class: r.get(4)?,
        traits: list(r.get(5)?),
        candidate_nodes: list(r.get(6)?),
        state: r.get(7)?,
        last_error: r.get(8)?,
        owner: r.get(9)?,
        extra,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    }))
}

fn query(conn: &Connection, sql: &str, args: &[SqlValue]) -> Result<Vec<Allocation>, StoreError> {
    super::query_rows(conn, sql, args, from_row)
}

fn node_id(conn: &Connection, uuid: &Option<String>) -> Result<SqlValue, StoreError> {
    let Some(u) = uuid else {
        return Ok(SqlValue::Null);
    };
    conn.query_row("SELECT id FROM nodes WHERE uuid = ?1", [u], |r| {
        r.get::<_, i64>(0)
    })
    .optional()?
    .map(SqlValue::Integer)
    .ok_or_else(|| StoreError::NotFound {
        what: "Node",
        id: u.clone(),
    })
}

fn values(conn: &Connection, a: &Allocation) -> Result<Vec<SqlValue>, StoreError> {
    Ok(vec![
        SqlValue::Text(a.uuid.clone()),
        opt_text(&a.name),
        node_id(conn, &a.node_uuid)?,
        opt_text(&a.resource_class),
        SqlValue::Text(serde_json::Value::from(a.traits.clone()).to_string()),
        SqlValue::Text(serde_json::Value::from(a.candidate_nodes.clone()).to_string()),
        SqlValue::Text(a.state.clone()),
        opt_text(&a.last_error),
        opt_text(&a.owner),
        json_text(&a.extra),
        SqlValue::Text(a.created_at.clone()),
        opt_text(&a.updated_at),
    ])
}

const COLS: &str = "uuid, name, node_id, resource_class, traits, candidate_nodes, state, last_error, owner, extra, created_at, updated_at";

#[derive(Debug, Default, Clone)]
pub struct AllocationFilter {
    pub node_uuid: Option<String>,
    pub resource_class: Option<String>,
    pub state: Option<String>,
    pub owner: Option<String>,
}

impl Store {
    pub async fn allocation_create(&self, a: Allocation) -> Result<Allocation, StoreError> {
        self.write(move |tx| {
            let vals = values(tx, &a)?;
            let ph: Vec<String> = (1..=vals.len()).map(|i| format!("?{i}")).collect();
            tx.execute(
                &format!("INSERT INTO allocations ({COLS}) VALUES ({})", ph.join(",")),
                params_from_iter(vals),
            )
            .map_err(classify)?;
            by_uuid(tx, &a.uuid)
        })
        .await
    }

    pub async fn allocation_save(&self, a: Allocation) -> Result<Allocation, StoreError> {
        self.write(move |tx| {
            let mut vals = values(tx, &a)?;
            let sets: Vec<String> = COLS
                .split(", ")
                .enumerate()
                .map(|(i, c)| format!("{c} = ?{}", i + 1))
                .collect();
            vals.push(SqlValue::Integer(a.id));
            tx.execute(
                &format!(
                    "UPDATE allocations SET {} WHERE id = ?{}",
                    sets.join(", "),
                    vals.len()
                ),
                params_from_iter(vals),
            )
            .map_err(classify)?;
            by_uuid(tx, &a.uuid)
        })
        .await
    }

    /// By UUID, or by name when `ident` is not one.
    pub async fn allocation_get(&self, ident: String) -> Result<Option<Allocation>, StoreError> {
        self.read(move |conn| {
            let mut found = query(
                conn,
                &format!("{SELECT} WHERE allocations.uuid = ?1"),
                &[SqlValue::Text(ident.clone())],
            )?;
            if found.is_empty() {
                found = query(
                    conn,
                    &format!("{SELECT} WHERE allocations.name = ?1"),
                    &[SqlValue::Text(ident)],
                )?;
            }
            Ok(found.pop())
        })
        .await
    }

    pub async fn allocation_of_node(
        &self,
        node_uuid: String,
    ) -> Result<Option<Allocation>, StoreError> {
        self.read(move |conn| {
            Ok(query(
                conn,
                &format!("{SELECT} WHERE n.uuid = ?1"),
                &[SqlValue::Text(node_uuid)],
            )?
            .pop())
        })
        .await
    }

    pub async fn allocation_list(
        &self,
        f: AllocationFilter,
        page: Page,
    ) -> Result<Vec<Allocation>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let mut w = Vec::new();
            for (col, v) in [
                ("n.uuid", &f.node_uuid),
                ("allocations.resource_class", &f.resource_class),
                ("allocations.state", &f.state),
                ("allocations.owner", &f.owner),
            ] {
                if let Some(v) = v {
                    args.push(SqlValue::Text(v.clone()));
                    w.push(format!("{col} = ?{}", args.len()));
                }
            }
            let sql = super::list_sql(
                SELECT,
                w,
                page_sql(conn, "allocations", &page, "Allocation", &mut args)?,
            );
            query(conn, &sql, &args)
        })
        .await
    }

    pub async fn allocation_delete(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute("DELETE FROM allocations WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }
}

fn by_uuid(conn: &Connection, uuid: &str) -> Result<Allocation, StoreError> {
    query(
        conn,
        &format!("{SELECT} WHERE allocations.uuid = ?1"),
        &[SqlValue::Text(uuid.to_string())],
    )?
    .pop()
    .ok_or_else(|| StoreError::NotFound {
        what: "Allocation",
        id: uuid.to_string(),
    })
}
