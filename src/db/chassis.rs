//! SQL for chassis.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};

use super::{classify, json_obj, json_text, opt_text, page_sql, Page, Store, StoreError};
use crate::model::chassis::Chassis;

const SELECT: &str = "SELECT id, uuid, description, extra, created_at, updated_at FROM chassis";

fn from_row(r: &Row) -> super::sql::Result<Result<Chassis, StoreError>> {
    let extra = match json_obj(r.get(3)?, "extra") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Chassis {
        id: r.get(0)?,
        uuid: r.get(1)?,
        description: r.get(2)?,
        extra,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    }))
}

fn query(conn: &Connection, sql: &str, args: &[SqlValue]) -> Result<Vec<Chassis>, StoreError> {
    super::query_rows(conn, sql, args, from_row)
}

impl Store {
    pub async fn chassis_create(&self, c: Chassis) -> Result<Chassis, StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO chassis (uuid, description, extra, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params_from_iter([SqlValue::Text(c.uuid.clone()), opt_text(&c.description), json_text(&c.extra),
                    SqlValue::Text(c.created_at.clone()), opt_text(&c.updated_at)]),
            ).map_err(classify)?;
            get(tx, &c.uuid)?.ok_or_else(|| StoreError::NotFound { what: "Chassis", id: c.uuid.clone() })
        })
        .await
    }

    pub async fn chassis_save(&self, c: Chassis) -> Result<Chassis, StoreError> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE chassis SET description = ?1, extra = ?2, updated_at = ?3 WHERE id = ?4",
                params_from_iter([
                    opt_text(&c.description),
                    json_text(&c.extra),
                    opt_text(&c.updated_at),
                    SqlValue::Integer(c.id),
                ]),
            )?;
            get(tx, &c.uuid)?.ok_or_else(|| StoreError::NotFound {
                what: "Chassis",
                id: c.uuid.clone(),
            })
        })
        .await
    }

    pub async fn chassis_get(&self, uuid: String) -> Result<Option<Chassis>, StoreError> {
        self.read(move |conn| get(conn, &uuid)).await
    }

    pub async fn chassis_list(&self, page: Page) -> Result<Vec<Chassis>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let sql = super::list_sql(
                SELECT,
                vec![],
                page_sql(conn, "chassis", &page, "Chassis", &mut args)?,
            );
            query(conn, &sql, &args)
        })
        .await
    }

    /// Delete unless nodes still reference it; returns false in that case.
    pub async fn chassis_delete(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let used: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM nodes WHERE chassis_id = ?1)",
                [id],
                |r| r.get(0),
            )?;
            if used {
                return Ok(false);
            }
            tx.execute("DELETE FROM chassis WHERE id = ?1", [id])?;
            Ok(true)
        })
        .await
    }
}

fn get(conn: &Connection, uuid: &str) -> Result<Option<Chassis>, StoreError> {
    Ok(query(
        conn,
        &format!("{SELECT} WHERE uuid = ?1"),
        &[SqlValue::Text(uuid.to_string())],
    )?
    .pop())
}
