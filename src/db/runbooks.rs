//! SQL for runbooks: one row each, steps and traits as JSON lists.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};

use super::{classify, json_obj, json_text, opt_text, page_sql, Page, Store, StoreError};
use crate::model::runbook::Runbook;

const SELECT: &str = "SELECT runbooks.id, runbooks.uuid, runbooks.name, runbooks.description, \
    runbooks.steps, runbooks.disable_ramdisk, runbooks.public, runbooks.owner, runbooks.traits, \
    runbooks.extra, runbooks.created_at, runbooks.updated_at FROM runbooks";

const COLS: &str = "uuid, name, description, steps, disable_ramdisk, public, owner, traits, \
    extra, created_at, updated_at";

/// What a runbook list is narrowed to.
#[derive(Debug, Default, Clone)]
pub struct RunbookFilter {
    /// `?project=true`: Ironic lists the caller's project's runbooks and the public ones;
    /// without projects (noauth, http_basic) that is the public ones.
    pub public_only: bool,
}

fn json_list<T: serde::de::DeserializeOwned>(
    s: String,
    column: &'static str,
) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

fn from_row(r: &Row) -> super::sql::Result<Result<Runbook, StoreError>> {
    let parsed = (|| {
        Ok::<_, StoreError>((
            json_list::<serde_json::Value>(r.get(4)?, "runbooks.steps")?,
            json_list::<String>(r.get(8)?, "runbooks.traits")?,
            json_obj(r.get(9)?, "runbooks.extra")?,
        ))
    })();
    let (steps, traits, extra) = match parsed {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Runbook {
        id: r.get(0)?,
        uuid: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        steps,
        disable_ramdisk: r.get(5)?,
        public: r.get(6)?,
        owner: r.get(7)?,
        traits,
        extra,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    }))
}

fn values(rb: &Runbook) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(rb.uuid.clone()),
        SqlValue::Text(rb.name.clone()),
        opt_text(&rb.description),
        SqlValue::Text(serde_json::Value::from(rb.steps.clone()).to_string()),
        SqlValue::Integer(rb.disable_ramdisk.into()),
        SqlValue::Integer(rb.public.into()),
        opt_text(&rb.owner),
        SqlValue::Text(serde_json::Value::from(rb.traits.clone()).to_string()),
        json_text(&rb.extra),
        SqlValue::Text(rb.created_at.clone()),
        opt_text(&rb.updated_at),
    ]
}

fn get(conn: &Connection, ident: &str) -> Result<Option<Runbook>, StoreError> {
    super::by_uuid_or_name(conn, SELECT, "runbooks", ident, from_row)
}

fn saved(conn: &Connection, uuid: &str) -> Result<Runbook, StoreError> {
    get(conn, uuid)?.ok_or_else(|| StoreError::NotFound {
        what: "Runbook",
        id: uuid.to_string(),
    })
}

impl Store {
    pub async fn runbook_create(&self, rb: Runbook) -> Result<Runbook, StoreError> {
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO runbooks ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params_from_iter(values(&rb)),
            )
            .map_err(classify)?;
            saved(tx, &rb.uuid)
        })
        .await
    }

    /// Write every column of `rb` (found by its id).
    pub async fn runbook_save(&self, rb: Runbook) -> Result<Runbook, StoreError> {
        self.write(move |tx| {
            let mut vals = values(&rb);
            vals.push(SqlValue::Integer(rb.id));
            tx.execute(
                "UPDATE runbooks SET uuid = ?1, name = ?2, description = ?3, steps = ?4, \
                 disable_ramdisk = ?5, public = ?6, owner = ?7, traits = ?8, extra = ?9, \
                 created_at = ?10, updated_at = ?11 WHERE id = ?12",
                params_from_iter(vals),
            )
            .map_err(classify)?;
            saved(tx, &rb.uuid)
        })
        .await
    }

    /// The runbook whose uuid, else whose name, is `ident`.
    pub async fn runbook_get(&self, ident: String) -> Result<Option<Runbook>, StoreError> {
        self.read(move |conn| get(conn, &ident)).await
    }

    pub async fn runbook_list(
        &self,
        f: RunbookFilter,
        page: Page,
    ) -> Result<Vec<Runbook>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let mut wheres = vec![];
            if f.public_only {
                wheres.push("runbooks.public = 1".to_string());
            }
            let sql = super::list_sql(
                SELECT,
                wheres,
                page_sql(conn, "runbooks", &page, "Runbook", &mut args)?,
            );
            super::query_rows(conn, &sql, &args, from_row)
        })
        .await
    }

    pub async fn runbook_delete(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute("DELETE FROM runbooks WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }
}
