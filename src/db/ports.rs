//! SQL for ports.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, OptionalExtension, Row};

use super::{
    classify, json_obj, json_text, must_find, opt_text, page_sql, ChangeKind, Page, Store,
    StoreError,
};
use crate::model::port::Port;

const SELECT: &str = "SELECT ports.id, ports.uuid, ports.name, ports.address, nodes.uuid, portgroups.uuid, \
    ports.local_link_connection, ports.pxe_enabled, ports.physical_network, ports.is_smartnic, \
    ports.description, ports.vendor, ports.category, ports.internal_info, ports.extra, \
    ports.created_at, ports.updated_at \
    FROM ports JOIN nodes ON nodes.id = ports.node_id LEFT JOIN portgroups ON portgroups.id = ports.portgroup_id";

fn from_row(r: &Row) -> super::sql::Result<Result<Port, StoreError>> {
    let llc = match json_obj(r.get(6)?, "local_link_connection") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let ii = match json_obj(r.get(13)?, "internal_info") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let extra = match json_obj(r.get(14)?, "extra") {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Port {
        id: r.get(0)?,
        uuid: r.get(1)?,
        name: r.get(2)?,
        address: r.get(3)?,
        node_uuid: r.get(4)?,
        portgroup_uuid: r.get(5)?,
        local_link_connection: llc,
        pxe_enabled: r.get(7)?,
        physical_network: r.get(8)?,
        is_smartnic: r.get(9)?,
        description: r.get(10)?,
        vendor: r.get(11)?,
        category: r.get(12)?,
        internal_info: ii,
        extra,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    }))
}

fn query(conn: &Connection, sql: &str, args: &[SqlValue]) -> Result<Vec<Port>, StoreError> {
    super::query_rows(conn, sql, args, from_row)
}

/// Writes node_id/portgroup_id from the uuids; missing ones are NotFound.
fn values(conn: &Connection, p: &Port) -> Result<Vec<SqlValue>, StoreError> {
    let node_id: i64 = must_find(
        conn.query_row(
            "SELECT id FROM nodes WHERE uuid = ?1",
            [&p.node_uuid],
            |r| r.get(0),
        ),
        "Node",
        &p.node_uuid,
    )?;
    let pg_id = match &p.portgroup_uuid {
        None => SqlValue::Null,
        Some(u) => SqlValue::Integer(must_find(
            conn.query_row("SELECT id FROM portgroups WHERE uuid = ?1", [u], |r| {
                r.get(0)
            }),
            "Portgroup",
            u,
        )?),
    };
    Ok(vec![
        SqlValue::Text(p.uuid.clone()),
        opt_text(&p.name),
        SqlValue::Text(p.address.clone()),
        SqlValue::Integer(node_id),
        pg_id,
        json_text(&p.local_link_connection),
        SqlValue::Integer(p.pxe_enabled as i64),
        opt_text(&p.physical_network),
        SqlValue::Integer(p.is_smartnic as i64),
        opt_text(&p.description),
        opt_text(&p.vendor),
        opt_text(&p.category),
        json_text(&p.internal_info),
        json_text(&p.extra),
        SqlValue::Text(p.created_at.clone()),
        opt_text(&p.updated_at),
    ])
}

const COLS: &str = "uuid, name, address, node_id, portgroup_id, local_link_connection, pxe_enabled, \
    physical_network, is_smartnic, description, vendor, category, internal_info, extra, created_at, updated_at";

#[derive(Debug, Default, Clone)]
pub struct PortFilter {
    pub node_uuid: Option<String>,
    pub portgroup_uuid: Option<String>,
    pub address: Option<String>,
    pub shard: Option<Vec<String>>,
    pub conductor_groups: Option<Vec<String>>,
}

/// Turns list filters on (column, values) into `IN (...)` clauses.
pub(super) fn in_list(col: &str, list: &[String], args: &mut Vec<SqlValue>) -> String {
    if list.is_empty() {
        return "1 = 0".into();
    }
    let ph: Vec<String> = list
        .iter()
        .map(|s| {
            args.push(SqlValue::Text(s.clone()));
            format!("?{}", args.len())
        })
        .collect();
    format!("{col} IN ({})", ph.join(","))
}

/// INSERT one port (inside the caller's transaction).
pub(super) fn insert(tx: &Connection, port: &Port) -> Result<(), StoreError> {
    let vals = values(tx, port)?;
    let ph: Vec<String> = (1..=vals.len()).map(|i| format!("?{i}")).collect();
    tx.execute(
        &format!("INSERT INTO ports ({COLS}) VALUES ({})", ph.join(",")),
        params_from_iter(vals),
    )
    .map_err(classify)?;
    Ok(())
}

/// UPDATE every column of one port (inside the caller's transaction).
pub(super) fn update(tx: &Connection, port: &Port) -> Result<(), StoreError> {
    let mut vals = values(tx, port)?;
    let sets: Vec<String> = COLS
        .split(", ")
        .enumerate()
        .map(|(i, c)| format!("{} = ?{}", c.trim(), i + 1))
        .collect();
    vals.push(SqlValue::Integer(port.id));
    let sql = format!(
        "UPDATE ports SET {} WHERE id = ?{}",
        sets.join(", "),
        vals.len()
    );
    tx.execute(&sql, params_from_iter(vals)).map_err(classify)?;
    Ok(())
}

/// Every port of node `node_id`.
pub(super) fn of_node(conn: &Connection, node_id: i64) -> Result<Vec<Port>, StoreError> {
    query(
        conn,
        &format!("{SELECT} WHERE ports.node_id = ?1 ORDER BY ports.id"),
        &[SqlValue::Integer(node_id)],
    )
}

impl Store {
    pub async fn port_create(&self, port: Port) -> Result<Port, StoreError> {
        let created = self
            .write(move |tx| {
                insert(tx, &port)?;
                by_uuid(tx, &port.uuid)
            })
            .await;
        self.ports_changed();
        if let Ok(p) = &created {
            self.changed(&p.node_uuid, ChangeKind::Port);
        }
        created
    }

    pub async fn port_save(&self, port: Port) -> Result<Port, StoreError> {
        let saved = self
            .write(move |tx| {
                update(tx, &port)?;
                by_uuid(tx, &port.uuid)
            })
            .await;
        self.ports_changed();
        if let Ok(p) = &saved {
            self.changed(&p.node_uuid, ChangeKind::Port);
        }
        saved
    }

    /// By UUID, or by name when `ident` is not one.
    pub async fn port_get(&self, ident: String) -> Result<Option<Port>, StoreError> {
        self.read(move |conn| {
            let mut found = query(
                conn,
                &format!("{SELECT} WHERE ports.uuid = ?1"),
                &[SqlValue::Text(ident.clone())],
            )?;
            if found.is_empty() {
                found = query(
                    conn,
                    &format!("{SELECT} WHERE ports.name = ?1"),
                    &[SqlValue::Text(ident)],
                )?;
            }
            Ok(found.pop())
        })
        .await
    }

    pub async fn port_list(&self, f: PortFilter, page: Page) -> Result<Vec<Port>, StoreError> {
        self.read(move |conn| {
            let mut args = Vec::new();
            let mut w = Vec::new();
            for (col, v) in [
                ("nodes.uuid", &f.node_uuid),
                ("portgroups.uuid", &f.portgroup_uuid),
                ("ports.address", &f.address),
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
                page_sql(conn, "ports", &page, "Port", &mut args)?,
            );
            query(conn, &sql, &args)
        })
        .await
    }

    pub async fn port_delete(&self, id: i64) -> Result<(), StoreError> {
        let deleted = self
            .write(move |tx| {
                let node: Option<String> = tx
                    .query_row(
                        "SELECT nodes.uuid FROM ports JOIN nodes ON nodes.id = ports.node_id WHERE ports.id = ?1",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute("DELETE FROM ports WHERE id = ?1", [id])?;
                Ok(node)
            })
            .await;
        self.ports_changed();
        if let Ok(Some(node)) = &deleted {
            self.changed(node, ChangeKind::Port);
        }
        deleted.map(drop)
    }
}

fn by_uuid(conn: &Connection, uuid: &str) -> Result<Port, StoreError> {
    query(
        conn,
        &format!("{SELECT} WHERE ports.uuid = ?1"),
        &[SqlValue::Text(uuid.to_string())],
    )?
    .pop()
    .ok_or_else(|| StoreError::NotFound {
        what: "Port",
        id: uuid.to_string(),
    })
}
