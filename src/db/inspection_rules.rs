//! SQL for inspection rules.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};
use serde_json::Value;

use super::{classify, opt_text, page_sql, Page, Store, StoreError};
use crate::model::inspection_rule::InspectionRule;

const SELECT: &str =
    "SELECT inspection_rules.id, inspection_rules.uuid, inspection_rules.description, \
    inspection_rules.priority, inspection_rules.sensitive, inspection_rules.phase, \
    inspection_rules.conditions, inspection_rules.actions, inspection_rules.created_at, \
    inspection_rules.updated_at FROM inspection_rules";

const COLS: &str =
    "uuid, description, priority, sensitive, phase, conditions, actions, created_at, updated_at";

/// A JSON list column; anything else is a corrupt row, not an empty list.
fn json_list(s: String, column: &'static str) -> Result<Vec<Value>, StoreError> {
    match serde_json::from_str(&s) {
        Ok(Value::Array(a)) => Ok(a),
        Ok(_) => Err(StoreError::Corrupt {
            column,
            reason: "not a JSON list".into(),
        }),
        Err(e) => Err(StoreError::Corrupt {
            column,
            reason: e.to_string(),
        }),
    }
}

fn from_row(r: &Row) -> super::sql::Result<Result<InspectionRule, StoreError>> {
    let lists = json_list(r.get(6)?, "inspection_rules.conditions")
        .and_then(|c| Ok((c, json_list(r.get(7)?, "inspection_rules.actions")?)));
    let (conditions, actions) = match lists {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(InspectionRule {
        id: r.get(0)?,
        uuid: r.get(1)?,
        description: r.get(2)?,
        priority: r.get(3)?,
        sensitive: r.get(4)?,
        phase: r.get(5)?,
        conditions,
        actions,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    }))
}

fn query(
    conn: &Connection,
    sql: &str,
    args: &[SqlValue],
) -> Result<Vec<InspectionRule>, StoreError> {
    super::query_rows(conn, sql, args, from_row)
}

fn values(t: &InspectionRule) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(t.uuid.clone()),
        opt_text(&t.description),
        SqlValue::Integer(t.priority),
        SqlValue::Integer(i64::from(t.sensitive)),
        SqlValue::Text(t.phase.clone()),
        SqlValue::Text(Value::from(t.conditions.clone()).to_string()),
        SqlValue::Text(Value::from(t.actions.clone()).to_string()),
        SqlValue::Text(t.created_at.clone()),
        opt_text(&t.updated_at),
    ]
}

fn get(conn: &Connection, uuid: &str) -> Result<Option<InspectionRule>, StoreError> {
    let mut found = query(
        conn,
        &format!("{SELECT} WHERE uuid = ?1"),
        &[SqlValue::Text(uuid.to_string())],
    )?;
    Ok(found.pop())
}

fn not_found(uuid: &str) -> StoreError {
    StoreError::NotFound {
        what: "Rule",
        id: uuid.to_string(),
    }
}

impl Store {
    pub async fn inspection_rule_create(
        &self,
        t: InspectionRule,
    ) -> Result<InspectionRule, StoreError> {
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO inspection_rules ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params_from_iter(values(&t)),
            )
            .map_err(classify)?;
            get(tx, &t.uuid)?.ok_or_else(|| not_found(&t.uuid))
        })
        .await
    }

    pub async fn inspection_rule_save(
        &self,
        t: InspectionRule,
    ) -> Result<InspectionRule, StoreError> {
        self.write(move |tx| {
            let mut vals = values(&t);
            vals.push(SqlValue::Integer(t.id));
            let n = tx
                .execute(
                    "UPDATE inspection_rules SET uuid = ?1, description = ?2, priority = ?3, \
                     sensitive = ?4, phase = ?5, conditions = ?6, actions = ?7, created_at = ?8, \
                     updated_at = ?9 WHERE id = ?10",
                    params_from_iter(vals),
                )
                .map_err(classify)?;
            if n == 0 {
                return Err(not_found(&t.uuid));
            }
            get(tx, &t.uuid)?.ok_or_else(|| not_found(&t.uuid))
        })
        .await
    }

    pub async fn inspection_rule_get(
        &self,
        uuid: String,
    ) -> Result<Option<InspectionRule>, StoreError> {
        self.read(move |conn| get(conn, &uuid)).await
    }

    /// A page of rules, of one phase when `phase` is given.
    pub async fn inspection_rule_list(
        &self,
        phase: Option<String>,
        page: Page,
    ) -> Result<Vec<InspectionRule>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let mut wheres = vec![];
            if let Some(p) = phase {
                args.push(SqlValue::Text(p));
                wheres.push(format!("inspection_rules.phase = ?{}", args.len()));
            }
            let sql = super::list_sql(
                SELECT,
                wheres,
                page_sql(conn, "inspection_rules", &page, "Rule", &mut args)?,
            );
            query(conn, &sql, &args)
        })
        .await
    }

    /// Every rule of `phase`, highest priority first (the engine's order; equal priorities
    /// in creation order).
    pub async fn inspection_rules_of_phase(
        &self,
        phase: String,
    ) -> Result<Vec<InspectionRule>, StoreError> {
        self.read(move |conn| {
            query(
                conn,
                &format!("{SELECT} WHERE phase = ?1 ORDER BY priority DESC, id ASC"),
                &[SqlValue::Text(phase)],
            )
        })
        .await
    }

    pub async fn inspection_rule_delete(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute("DELETE FROM inspection_rules WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }

    /// Delete every rule; how many there were.
    pub async fn inspection_rule_delete_all(&self) -> Result<usize, StoreError> {
        self.write(move |tx| Ok(tx.execute("DELETE FROM inspection_rules", [])?))
            .await
    }
}
