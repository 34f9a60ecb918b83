//! SQL for deploy templates.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};

use super::{classify, json_obj, json_text, opt_text, page_sql, Page, Store, StoreError};
use crate::model::deploy_template::DeployTemplate;

const SELECT: &str = "SELECT deploy_templates.id, deploy_templates.uuid, deploy_templates.name, deploy_templates.steps, \
    deploy_templates.extra, deploy_templates.created_at, deploy_templates.updated_at FROM deploy_templates";

fn from_row(r: &Row) -> super::sql::Result<Result<DeployTemplate, StoreError>> {
    let steps: String = r.get(3)?;
    let extra = match json_obj(r.get(4)?, "extra") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(DeployTemplate {
        id: r.get(0)?,
        uuid: r.get(1)?,
        name: r.get(2)?,
        steps: serde_json::from_str(&steps).unwrap_or_default(),
        extra,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    }))
}

fn query(
    conn: &Connection,
    sql: &str,
    args: &[SqlValue],
) -> Result<Vec<DeployTemplate>, StoreError> {
    super::query_rows(conn, sql, args, from_row)
}

fn values(t: &DeployTemplate) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(t.uuid.clone()),
        SqlValue::Text(t.name.clone()),
        SqlValue::Text(serde_json::Value::from(t.steps.clone()).to_string()),
        json_text(&t.extra),
        SqlValue::Text(t.created_at.clone()),
        opt_text(&t.updated_at),
    ]
}

const COLS: &str = "uuid, name, steps, extra, created_at, updated_at";

impl Store {
    pub async fn deploy_template_create(
        &self,
        t: DeployTemplate,
    ) -> Result<DeployTemplate, StoreError> {
        self.write(move |tx| {
            tx.execute(
                &format!("INSERT INTO deploy_templates ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params_from_iter(values(&t)),
            )
            .map_err(classify)?;
            get(tx, &t.uuid)?.ok_or_else(|| StoreError::NotFound {
                what: "DeployTemplate",
                id: t.uuid.clone(),
            })
        })
        .await
    }

    pub async fn deploy_template_save(
        &self,
        t: DeployTemplate,
    ) -> Result<DeployTemplate, StoreError> {
        self.write(move |tx| {
            let mut vals = values(&t);
            vals.push(SqlValue::Integer(t.id));
            tx.execute("UPDATE deploy_templates SET uuid = ?1, name = ?2, steps = ?3, extra = ?4, created_at = ?5, updated_at = ?6 WHERE id = ?7", params_from_iter(vals)).map_err(classify)?;
            get(tx, &t.uuid)?.ok_or_else(|| StoreError::NotFound { what: "DeployTemplate", id: t.uuid.clone() })
        })
        .await
    }

    pub async fn deploy_template_get(
        &self,
        ident: String,
    ) -> Result<Option<DeployTemplate>, StoreError> {
        self.read(move |conn| get(conn, &ident)).await
    }

    /// Templates whose names are among `names` (a node's instance traits).
    pub async fn deploy_templates_named(
        &self,
        names: Vec<String>,
    ) -> Result<Vec<DeployTemplate>, StoreError> {
        self.read(move |conn| {
            if names.is_empty() {
                return Ok(vec![]);
            }
            let mut args = vec![];
            let list = super::ports::in_list("name", &names, &mut args);
            query(conn, &format!("{SELECT} WHERE {list} ORDER BY name"), &args)
        })
        .await
    }

    pub async fn deploy_template_list(
        &self,
        page: Page,
    ) -> Result<Vec<DeployTemplate>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let sql = super::list_sql(
                SELECT,
                vec![],
                page_sql(conn, "deploy_templates", &page, "DeployTemplate", &mut args)?,
            );
            query(conn, &sql, &args)
        })
        .await
    }

    pub async fn deploy_template_delete(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute("DELETE FROM deploy_templates WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }
}

fn get(conn: &Connection, ident: &str) -> Result<Option<DeployTemplate>, StoreError> {
    super::by_uuid_or_name(conn, SELECT, "deploy_templates", ident, from_row)
}
