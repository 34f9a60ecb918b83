//! SQL for portgroups.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};

use super::ports::in_list;
use super::{
    classify, json_obj, json_text, must_find, opt_text, page_sql, Page, Store, StoreError,
};
use crate::model::portgroup::Portgroup;

const SELECT: &str = "SELECT portgroups.id, portgroups.uuid, portgroups.name, nodes.uuid, portgroups.address, \
    portgroups.standalone_ports_supported, portgroups.mode, portgroups.properties, portgroups.physical_network, \
    portgroups.category, portgroups.internal_info, portgroups.extra, portgroups.created_at, portgroups.updated_at \
    FROM portgroups JOIN nodes ON nodes.id = portgroups.node_id";

const COLS: &str = "uuid, name, node_id, address, standalone_ports_supported, mode, properties, \
    physical_network, category, internal_info, extra, created_at, updated_at";

fn from_row(r: &Row) -> super::sql::Result<Result<Portgroup, StoreError>> {
    let props = match json_obj(r.get(7)?, "properties") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let ii = match json_obj(r.get(10)?, "internal_info") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let extra = match json_obj(r.get(11)?, "extra") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Portgroup {
        id: r.get(0)?,
        uuid: r.get(1)?,
        name: r.get(2)?,
        node_uuid: r.get(3)?,
        address: r.get(4)?,
        standalone_ports_supported: r.get(5)?,
        mode: r.get(6)?,
        properties: props,
        physical_network: r.get(8)?,
        category: r.get(9)?,
        internal_info: ii,
        extra,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    }))
}

fn query(conn: &Connection, sql: &str, args: &[SqlValue]) -> Result<Vec<Portgroup>, StoreError> {
    super::query_rows(conn, sql, args, from_row)
}

fn values(conn: &Connection, p: &Portgroup) -> Result<Vec<SqlValue>, StoreError> {
    let node_id: i64 = must_find(
        conn.query_row(
            "SELECT id FROM nodes WHERE uuid = ?1",
            [&p.node_uuid],
            |r| r.get(0),
        ),
        "Node",
        &p.node_uuid,
    )?;
    Ok(vec![
        SqlValue::Text(p.uuid.clone()),
        opt_text(&p.name),
        SqlValue::Integer(node_id),
        opt_text(&p.address),
        SqlValue::Integer(p.standalone_ports_supported as i64),
        opt_text(&p.mode),
        json_text(&p.properties),
        opt_text(&p.physical_network),
        opt_text(&p.category),
        json_text(&p.internal_info),
        json_text(&p.extra),
        SqlValue::Text(p.created_at.clone()),
        opt_text(&p.updated_at),
    ])
}

#[derive(Debug, Default, Clone)]
pub struct PortgroupFilter {
    pub node_uuid: Option<String>,
    pub address: Option<String>,
    pub shard: Option<Vec<String>>,
    pub conductor_groups: Option<Vec<String>>,
}

impl Store {
    pub async fn portgroup_create(&self, pg: Portgroup) -> Result<Portgroup, StoreError> {
        self.write(move |tx| {
            let vals = values(tx, &pg)?;
            let ph: Vec<String> = (1..=vals.len()).map(|i| format!("?{i}")).collect();
            tx.execute(
                &format!("INSERT INTO portgroups ({COLS}) VALUES ({})", ph.join(",")),
                params_from_iter(vals),
            )
            .map_err(classify)?;
            by_uuid(tx, &pg.uuid)
        })
        .await
    }

    pub async fn portgroup_save(&self, pg: Portgroup) -> Result<Portgroup, StoreError> {
        self.write(move |tx| {
            let mut vals = values(tx, &pg)?;
            let sets: Vec<String> = COLS
                .split(", ")
                .enumerate()
                .map(|(i, c)| format!("{} = ?{}", c.trim(), i + 1))
                .collect();
            vals.push(SqlValue::Integer(pg.id));
            let sql = format!(
                "UPDATE portgroups SET {} WHERE id = ?{}",
                sets.join(", "),
                vals.len()
            );
            tx.execute(&sql, params_from_iter(vals)).map_err(classify)?;
            by_uuid(tx, &pg.uuid)
        })
        .await
    }

    pub async fn portgroup_get(&self, ident: String) -> Result<Option<Portgroup>, StoreError> {
        self.read(move |conn| {
            let mut found = query(
                conn,
                &format!("{SELECT} WHERE portgroups.uuid = ?1"),
                &[SqlValue::Text(ident.clone())],
            )?;
            if found.is_empty() {
                found = query(
                    conn,
                    &format!("{SELECT} WHERE portgroups.name = ?1"),
                    &[SqlValue::Text(ident)],
                )?;
            }
            Ok(found.pop())
        })
        .await
    }

    pub async fn portgroup_list(
        &self,
        f: PortgroupFilter,
        page: Page,
    ) -> Result<Vec<Portgroup>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let mut w = Vec::new();
            for (col, v) in [
                ("nodes.uuid", &f.node_uuid),
                ("portgroups.address", &f.address),
            ] {
                if let Some(v) = v {
                    args.push(SqlValue::Text(v.clone()));
                    w.push(format!("{col} = ?{}", args.len()));
                }
            }
            if let Some(s) = &f.shard {
                w.push(in_list("nodes.shard", s, &mut args));
            }
            if let Some(g) = &f.conductor_groups {
                w.push(in_list("nodes.conductor_group", g, &mut args));
            }
            let sql = super::list_sql(
                SELECT,
                w,
                page_sql(conn, "portgroups", &page, "Portgroup", &mut args)?,
            );
            query(conn, &sql, &args)
        })
        .await
    }

    pub async fn portgroup_port_count(&self, id: i64) -> Result<i64, StoreError> {
        self.read(move |conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM ports WHERE portgroup_id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
    }

    pub async fn portgroup_delete(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute("DELETE FROM portgroups WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }
}

fn by_uuid(conn: &Connection, uuid: &str) -> Result<Portgroup, StoreError> {
    query(
        conn,
        &format!("{SELECT} WHERE portgroups.uuid = ?1"),
        &[SqlValue::Text(uuid.to_string())],
    )?
    .pop()
    .ok_or_else(|| StoreError::NotFound {
        what: "Portgroup",
        id: uuid.to_string(),
    })
}
