//! SQL for nodes and their traits.

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, OptionalExtension, Row};

use super::{classify, json_obj, json_text, opt_text, ChangeKind, Page, Store, StoreError};
use crate::model::node::{Interfaces, Node, INTERFACE_KINDS};

/// Columns written from a `Node`, in the order of `node_values` and read back by `from_row`
/// (after `id`, the chassis uuid and the traits). Interface columns follow INTERFACE_KINDS.
pub(super) const COLUMNS: &[&str] = &[
    "uuid",
    "name",
    "driver",
    "driver_info",
    "driver_internal_info",
    "properties",
    "instance_info",
    "instance_uuid",
    "instance_name",
    "extra",
    "power_state",
    "target_power_state",
    "provision_state",
    "target_provision_state",
    "provision_updated_at",
    "maintenance",
    "maintenance_reason",
    "fault",
    "last_error",
    "reservation",
    "console_enabled",
    "raid_config",
    "target_raid_config",
    "clean_step",
    "deploy_step",
    "service_step",
    "inspection_started_at",
    "inspection_finished_at",
    "resource_class",
    "conductor_group",
    "automated_clean",
    "protected",
    "protected_reason",
    "owner",
    "lessee",
    "description",
    "retired",
    "retired_reason",
    "network_data",
    "boot_mode",
    "secure_boot",
    "shard",
    "parent_node",
    "disable_power_off",
    "health",
    "created_at",
    "updated_at",
    "bios_interface",
    "boot_interface",
    "console_interface",
    "deploy_interface",
    "firmware_interface",
    "inspect_interface",
    "management_interface",
    "network_interface",
    "power_interface",
    "raid_interface",
    "rescue_interface",
    "storage_interface",
    "vendor_interface",
];

fn select_sql() -> String {
    let cols: Vec<String> = COLUMNS.iter().map(|c| format!("nodes.{c}")).collect();
    format!(
        "SELECT nodes.id, chassis.uuid, (SELECT a.uuid FROM allocations a WHERE a.node_id = nodes.id), \
         (SELECT json_group_array(trait) FROM (SELECT trait FROM node_traits t WHERE t.node_id = nodes.id ORDER BY trait) AS tr), {} \
         FROM nodes LEFT JOIN chassis ON chassis.id = nodes.chassis_id",
        cols.join(", ")
    )
}

fn b(v: bool) -> SqlValue {
    SqlValue::Integer(v as i64)
}

fn node_values(n: &Node) -> Vec<SqlValue> {
    let mut v = vec![
        SqlValue::Text(n.uuid.clone()),
        opt_text(&n.name),
        SqlValue::Text(n.driver.clone()),
        json_text(&n.driver_info),
        json_text(&n.driver_internal_info),
        json_text(&n.properties),
        json_text(&n.instance_info),
        opt_text(&n.instance_uuid),
        opt_text(&n.instance_name),
        json_text(&n.extra),
        opt_text(&n.power_state),
        opt_text(&n.target_power_state),
        SqlValue::Text(n.provision_state.clone()),
        opt_text(&n.target_provision_state),
        opt_text(&n.provision_updated_at),
        b(n.maintenance),
        opt_text(&n.maintenance_reason),
        opt_text(&n.fault),
        opt_text(&n.last_error),
        opt_text(&n.reservation),
        b(n.console_enabled),
        json_text(&n.raid_config),
        json_text(&n.target_raid_config),
        json_text(&n.clean_step),
        json_text(&n.deploy_step),
        json_text(&n.service_step),
        opt_text(&n.inspection_started_at),
        opt_text(&n.inspection_finished_at),
        opt_text(&n.resource_class),
        SqlValue::Text(n.conductor_group.clone()),
        n.automated_clean.map_or(SqlValue::Null, b),
        b(n.protected),
        opt_text(&n.protected_reason),
        opt_text(&n.owner),
        opt_text(&n.lessee),
        opt_text(&n.description),
        b(n.retired),
        opt_text(&n.retired_reason),
        json_text(&n.network_data),
        opt_text(&n.boot_mode),
        n.secure_boot.map_or(SqlValue::Null, b),
        opt_text(&n.shard),
        opt_text(&n.parent_node),
        b(n.disable_power_off),
        opt_text(&n.health),
        SqlValue::Text(n.created_at.clone()),
        opt_text(&n.updated_at),
    ];
    v.extend(n.interfaces.0.iter().map(opt_text));
    v
}

fn from_row(r: &Row) -> super::sql::Result<Result<Node, StoreError>> {
    let mut i = 0usize;
    let mut next = || {
        i += 1;
        i - 1
    };
    let id: i64 = r.get(next())?;
    let chassis_uuid: Option<String> = r.get(next())?;
    let allocation_uuid: Option<String> = r.get(next())?;
    let traits: String = r.get(next())?;
    macro_rules! s {
        () => {
            r.get::<_, String>(next())?
        };
    }
    macro_rules! o {
        () => {
            r.get::<_, Option<String>>(next())?
        };
    }
    macro_rules! bo {
        () => {
            r.get::<_, bool>(next())?
        };
    }
    macro_rules! j {
        ($c:literal) => {
            match json_obj(r.get::<_, String>(next())?, $c) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            }
        };
    }
    let mut n = Node {
        id,
        chassis_uuid,
        traits: serde_json::from_str(&traits).unwrap_or_default(),
        uuid: s!(),
        name: o!(),
        driver: s!(),
        driver_info: j!("driver_info"),
        driver_internal_info: j!("driver_internal_info"),
        properties: j!("properties"),
        instance_info: j!("instance_info"),
        instance_uuid: o!(),
        instance_name: o!(),
        extra: j!("extra"),
        power_state: o!(),
        target_power_state: o!(),
        provision_state: s!(),
        target_provision_state: o!(),
        provision_updated_at: o!(),
        maintenance: bo!(),
        maintenance_reason: o!(),
        fault: o!(),
        last_error: o!(),
        reservation: o!(),
        console_enabled: bo!(),
        raid_config: j!("raid_config"),
        target_raid_config: j!("target_raid_config"),
        clean_step: j!("clean_step"),
        deploy_step: j!("deploy_step"),
        service_step: j!("service_step"),
        inspection_started_at: o!(),
        inspection_finished_at: o!(),
        resource_class: o!(),
        conductor_group: s!(),
        automated_clean: r.get(next())?,
        protected: bo!(),
        protected_reason: o!(),
        owner: o!(),
        lessee: o!(),
        description: o!(),
        retired: bo!(),
        retired_reason: o!(),
        network_data: j!("network_data"),
        boot_mode: o!(),
        secure_boot: r.get(next())?,
        shard: o!(),
        parent_node: o!(),
        disable_power_off: bo!(),
        health: o!(),
        created_at: s!(),
        updated_at: o!(),
        interfaces: Interfaces::default(),
        allocation_uuid,
    };
    for k in INTERFACE_KINDS {
        n.interfaces.set(k, o!());
    }
    Ok(Ok(n))
}

fn query_nodes(conn: &Connection, sql: &str, args: &[SqlValue]) -> Result<Vec<Node>, StoreError> {
    super::query_rows(conn, sql, args, from_row)
}

fn chassis_id(conn: &Connection, uuid: &Option<String>) -> Result<SqlValue, StoreError> {
    let Some(u) = uuid else {
        return Ok(SqlValue::Null);
    };
    conn.query_row("SELECT id FROM chassis WHERE uuid = ?1", [u], |r| {
        r.get::<_, i64>(0)
    })
    .optional()?
    .map(SqlValue::Integer)
    .ok_or_else(|| StoreError::NotFound {
        what: "Chassis",
        id: u.clone(),
    })
}

/// `search`: name contains (LIKE, wildcards escaped), UUID starts with, a port's MAC is, or a
/// bound lease's address is. MACs are stored lowercase with colons, as typed here after
/// `-` becomes `:`.
fn search_sql(q: &str, args: &mut Vec<SqlValue>, w: &mut Vec<String>) {
    let q = q.trim();
    let like: String = q
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    args.push(SqlValue::Text(format!("%{like}%")));
    let contains = args.len();
    args.push(SqlValue::Text(format!("{}%", like.to_ascii_lowercase())));
    let prefix = args.len();
    args.push(SqlValue::Text(q.to_ascii_lowercase().replace('-', ":")));
    let mac = args.len();
    args.push(SqlValue::Text(q.to_string()));
    let ip = args.len();
    w.push(format!(
        "(nodes.name LIKE ?{contains} ESCAPE '\\' OR nodes.uuid LIKE ?{prefix} ESCAPE '\\' \
         OR nodes.id IN (SELECT node_id FROM ports WHERE address = ?{mac}) \
         OR nodes.id IN (SELECT p.node_id FROM ports p JOIN dhcp_leases l ON l.mac = p.address \
           WHERE l.ip = ?{ip} AND l.state = 'bound' \
           AND l.expires_at > CAST(strftime('%s', 'now') AS INTEGER)))"
    ));
}

/// What a node list may be filtered on (API query parameters, already validated).
#[derive(Debug, Default, Clone)]
pub struct NodeFilter {
    pub provision_state: Option<String>,
    pub driver: Option<String>,
    pub maintenance: Option<bool>,
    /// Enrolled by auto-discovery (`driver_internal_info.auto_discovered` is true).
    pub auto_discovered: Option<bool>,
    pub retired: Option<bool>,
    pub associated: Option<bool>,
    pub instance_uuid: Option<String>,
    pub instance_name: Option<String>,
    pub resource_class: Option<String>,
    pub conductor_group: Option<String>,
    pub fault: Option<String>,
    pub owner: Option<String>,
    pub lessee: Option<String>,
    /// Matches owner or lessee.
    pub project: Option<String>,
    pub description_contains: Option<String>,
    pub chassis_uuid: Option<String>,
    pub shard: Option<Vec<String>>,
    pub sharded: Option<bool>,
    pub parent_node: Option<String>,
    /// Child nodes (with a parent_node) are hidden unless asked for.
    pub include_children: bool,
    /// Only nodes of these conductor groups (hash-ring `conductor` filter); Some(empty) = none.
    pub conductor_groups: Option<Vec<String>>,
    /// The console's search box: part of the name, the start of the UUID, a port's MAC or
    /// an address leased to one (case-insensitive).
    pub search: Option<String>,
    /// Only these nodes (by UUID); Some(empty) = none.
    pub uuids: Option<Vec<String>>,
}

impl NodeFilter {
    pub(super) fn sql(&self, args: &mut Vec<SqlValue>) -> Vec<String> {
        let mut w = Vec::new();
        let mut eq = |col: &str, v: &Option<String>, w: &mut Vec<String>| {
            if let Some(v) = v {
                args.push(SqlValue::Text(v.clone()));
                w.push(format!("nodes.{col} = ?{}", args.len()));
            }
        };
        eq("provision_state", &self.provision_state, &mut w);
        eq("driver", &self.driver, &mut w);
        eq("instance_uuid", &self.instance_uuid, &mut w);
        eq("instance_name", &self.instance_name, &mut w);
        eq("resource_class", &self.resource_class, &mut w);
        eq("conductor_group", &self.conductor_group, &mut w);
        eq("fault", &self.fault, &mut w);
        eq("owner", &self.owner, &mut w);
        eq("lessee", &self.lessee, &mut w);
        eq("parent_node", &self.parent_node, &mut w);
        if let Some(m) = self.maintenance {
            w.push(format!("nodes.maintenance = {}", m as i64));
        }
        if let Some(d) = self.auto_discovered {
            // Only JSON true counts; a missing key (json_type NULL) or any other value is "not".
            w.push(format!(
                "(CASE WHEN json_type(nodes.driver_internal_info, '$.auto_discovered') = 'true' THEN 1 ELSE 0 END) = {}",
                d as i64
            ));
        }
        if let Some(m) = self.retired {
            w.push(format!("nodes.retired = {}", m as i64));
        }
        if let Some(a) = self.associated {
            w.push(format!(
                "nodes.instance_uuid IS {} NULL",
                if a { "NOT" } else { "" }
            ));
        }
        if let Some(p) = &self.project {
            args.push(SqlValue::Text(p.clone()));
            w.push(format!(
                "(nodes.owner = ?{0} OR nodes.lessee = ?{0})",
                args.len()
            ));
        }
        if let Some(d) = &self.description_contains {
            args.push(SqlValue::Text(d.clone()));
            w.push(format!("instr(nodes.description, ?{}) > 0", args.len()));
        }
        if let Some(c) = &self.chassis_uuid {
            args.push(SqlValue::Text(c.clone()));
            w.push(format!("chassis.uuid = ?{}", args.len()));
        }
        if let Some(s) = self.sharded {
            w.push(format!(
                "nodes.shard IS {} NULL",
                if s { "NOT" } else { "" }
            ));
        }
        for (col, list) in [
            ("shard", &self.shard),
            ("conductor_group", &self.conductor_groups),
        ] {
            if let Some(list) = list {
                let mut ph = Vec::new();
                for s in list {
                    args.push(SqlValue::Text(s.clone()));
                    ph.push(format!("?{}", args.len()));
                }
                if ph.is_empty() {
                    w.push("1 = 0".into());
                } else {
                    w.push(format!("nodes.{col} IN ({})", ph.join(",")));
                }
            }
        }
        if let Some(q) = &self.search {
            search_sql(q, args, &mut w);
        }
        if let Some(list) = &self.uuids {
            let mut ph = Vec::new();
            for u in list {
                args.push(SqlValue::Text(u.clone()));
                ph.push(format!("?{}", args.len()));
            }
            w.push(if ph.is_empty() {
                "1 = 0".into()
            } else {
                format!("nodes.uuid IN ({})", ph.join(","))
            });
        }
        if !self.include_children && self.parent_node.is_none() {
            w.push("nodes.parent_node IS NULL".into());
        }
        w
    }
}

impl Store {
    pub async fn node_create(&self, node: Node) -> Result<Node, StoreError> {
        self.write(move |tx| {
            let mut cols: Vec<&str> = COLUMNS.to_vec();
            cols.push("chassis_id");
            let mut vals = node_values(&node);
            vals.push(chassis_id(tx, &node.chassis_uuid)?);
            let ph: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "INSERT INTO nodes ({}) VALUES ({})",
                cols.join(", "),
                ph.join(", ")
            );
            let id = tx
                .insert_id(&sql, params_from_iter(vals))
                .map_err(classify)?;
            for t in &node.traits {
                tx.execute(
                    "INSERT INTO node_traits (node_id, trait, created_at) VALUES (?1, ?2, ?3)",
                    super::sql::params![id, t, node.created_at],
                )
                .map_err(classify)?;
            }
            node_by_id(tx, id)
        })
        .await
        .inspect(|n| self.changed(&n.uuid, ChangeKind::Node))
    }

    /// Look a node up by UUID or, failing that, by name.
    pub async fn node_get(&self, ident: String) -> Result<Option<Node>, StoreError> {
        self.read(move |conn| node_lookup(conn, &ident)).await
    }

    pub async fn node_list(&self, filter: NodeFilter, page: Page) -> Result<Vec<Node>, StoreError> {
        self.read(move |conn| {
            let mut out = Vec::new();
            super::node_list::list_each(conn, &filter, &page, None, &mut |n| {
                out.push(n);
                Ok(())
            })?;
            Ok(out)
        })
        .await
    }

    /// Save every column of `node` unconditionally (tools and tests; the conductor uses
    /// `node_save_locked`).
    pub async fn node_save(&self, node: Node) -> Result<Option<Node>, StoreError> {
        self.write(move |tx| save_node(tx, &node, None))
            .await
            .inspect(|n| self.saved(n))
    }

    pub async fn node_delete(&self, id: i64) -> Result<(), StoreError> {
        let deleted = self
            .write(move |tx| {
                let uuid = uuid_of(tx, id)?;
                // Ports reference portgroups; drop them first so the cascade order never matters.
                tx.execute("DELETE FROM ports WHERE node_id = ?1", [id])?;
                tx.execute("DELETE FROM nodes WHERE id = ?1", [id])?;
                Ok(uuid)
            })
            .await;
        self.ports_changed();
        if let Ok(Some(uuid)) = &deleted {
            self.changed(uuid, ChangeKind::NodeDeleted);
        }
        deleted.map(drop)
    }

    /// Announce a write made by row id (trait changes: rare, so one extra read is fine).
    async fn changed_id(&self, id: i64) {
        if let Ok(Some(uuid)) = self.read(move |c| uuid_of(c, id)).await {
            self.changed(&uuid, ChangeKind::Node);
        }
    }

    fn saved(&self, node: &Option<Node>) {
        if let Some(n) = node {
            self.changed(&n.uuid, ChangeKind::Node);
        }
    }

    /// Replace all traits of a node.
    pub async fn node_set_traits(
        &self,
        id: i64,
        traits: Vec<String>,
        now: String,
    ) -> Result<(), StoreError> {
        let out = self.write(move |tx| {
            tx.execute("DELETE FROM node_traits WHERE node_id = ?1", [id])?;
            for t in traits {
                tx.execute("INSERT INTO node_traits (node_id, trait, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    super::sql::params![id, t, now])?;
            }
            tx.execute("UPDATE nodes SET updated_at = ?2 WHERE id = ?1", super::sql::params![id, now])?;
            Ok(())
        })
        .await;
        self.changed_id(id).await;
        out
    }

    /// Add one trait; false if the node already has `max` traits and this one is new.
    pub async fn node_add_trait(
        &self,
        id: i64,
        t: String,
        max: usize,
        now: String,
    ) -> Result<bool, StoreError> {
        let out = self
            .write(move |tx| {
                let have: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM node_traits WHERE node_id = ?1 AND trait = ?2)",
                    super::sql::params![id, t],
                    |r| r.get(0),
                )?;
                if have {
                    return Ok(true);
                }
                let count: i64 = tx.query_row(
                    "SELECT count(*) FROM node_traits WHERE node_id = ?1",
                    [id],
                    |r| r.get(0),
                )?;
                if count as usize >= max {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO node_traits (node_id, trait, created_at) VALUES (?1, ?2, ?3)",
                    super::sql::params![id, t, now],
                )?;
                tx.execute(
                    "UPDATE nodes SET updated_at = ?2 WHERE id = ?1",
                    super::sql::params![id, now],
                )?;
                Ok(true)
            })
            .await;
        self.changed_id(id).await;
        out
    }

    /// Remove one trait (or all with None); returns how many were removed.
    pub async fn node_remove_traits(
        &self,
        id: i64,
        t: Option<String>,
        now: String,
    ) -> Result<usize, StoreError> {
        let out = self
            .write(move |tx| {
                let n = match t {
                    Some(t) => tx.execute(
                        "DELETE FROM node_traits WHERE node_id = ?1 AND trait = ?2",
                        super::sql::params![id, t],
                    )?,
                    None => tx.execute("DELETE FROM node_traits WHERE node_id = ?1", [id])?,
                };
                tx.execute(
                    "UPDATE nodes SET updated_at = ?2 WHERE id = ?1",
                    super::sql::params![id, now],
                )?;
                Ok(n)
            })
            .await;
        self.changed_id(id).await;
        out
    }

    /// Node counts by (provision state, power state, maintenance), for the metrics
    /// gauges: one grouped read, whatever the number of nodes.
    pub async fn node_state_counts(
        &self,
    ) -> Result<Vec<(String, Option<String>, bool, i64)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT provision_state, power_state, maintenance, count(*) FROM nodes
                 GROUP BY provision_state, power_state, maintenance",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Shard names (None = unsharded) and their node counts, largest first.
    pub async fn node_shard_counts(&self) -> Result<Vec<(Option<String>, i64)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT shard, count(*) AS n FROM nodes GROUP BY shard ORDER BY n DESC, shard",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Take the node's lock for `host` if nobody holds it. Returns the node as locked, or
    /// Err(holder) with the current holder's name (None if the node vanished). Locks and
    /// their release need no fsync: what holds them does not survive a restart, which
    /// releases them all (`node_release_all`).
    pub async fn node_reserve(
        &self,
        uuid: String,
        host: String,
    ) -> Result<Result<Node, Option<String>>, StoreError> {
        self.write_batched(move |tx| {
            let n = tx.execute(
                "UPDATE nodes SET reservation = ?2 WHERE uuid = ?1 AND reservation IS NULL",
                super::sql::params![uuid, host],
            )?;
            if n == 1 {
                let id: i64 =
                    tx.query_row("SELECT id FROM nodes WHERE uuid = ?1", [&uuid], |r| {
                        r.get(0)
                    })?;
                return node_by_id(tx, id).map(Ok);
            }
            let holder: Option<Option<String>> = tx
                .query_row(
                    "SELECT reservation FROM nodes WHERE uuid = ?1",
                    [&uuid],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(Err(holder.flatten()))
        })
        .await
    }

    /// Drop `host`'s lock on a node (no-op if it does not hold it).
    pub async fn node_release(&self, id: i64, host: String) -> Result<(), StoreError> {
        self.write_batched(move |tx| {
            tx.execute(
                "UPDATE nodes SET reservation = NULL WHERE id = ?1 AND reservation = ?2",
                super::sql::params![id, host],
            )?;
            Ok(())
        })
        .await
    }

    /// Save a node this `host` holds locked; None if the lock was lost (nothing written).
    pub async fn node_save_locked(
        &self,
        node: Node,
        host: String,
    ) -> Result<Option<Node>, StoreError> {
        self.write(move |tx| save_node(tx, &node, Some(host)))
            .await
            .inspect(|n| self.saved(n))
    }

    /// Release every lock held by `host` (after a restart nothing of its can still be running).
    pub async fn node_release_all(&self, host: String) -> Result<usize, StoreError> {
        self.write(move |tx| {
            Ok(tx.execute(
                "UPDATE nodes SET reservation = NULL WHERE reservation = ?1",
                [host],
            )?)
        })
        .await
    }

    pub async fn node_count_by_chassis(&self, chassis_uuid: String) -> Result<i64, StoreError> {
        self.read(move |conn| {
            Ok(conn.query_row(
                "SELECT count(*) FROM nodes JOIN chassis ON chassis.id = nodes.chassis_id WHERE chassis.uuid = ?1",
                [chassis_uuid], |r| r.get(0))?)
        })
        .await
    }
}

/// A node's UUID by row id (None if there is no such row).
fn uuid_of(conn: &Connection, id: i64) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT uuid FROM nodes WHERE id = ?1", [id], |r| r.get(0))
        .optional()?)
}

/// UPDATE every column; with `holder`, only while that host holds the node's lock.
pub(super) fn save_node(
    tx: &Connection,
    node: &Node,
    holder: Option<String>,
) -> Result<Option<Node>, StoreError> {
    let mut sets: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect();
    let mut vals = node_values(node);
    vals.push(chassis_id(tx, &node.chassis_uuid)?);
    sets.push(format!("chassis_id = ?{}", vals.len()));
    vals.push(SqlValue::Integer(node.id));
    let mut sql = format!(
        "UPDATE nodes SET {} WHERE id = ?{}",
        sets.join(", "),
        vals.len()
    );
    if let Some(h) = holder {
        vals.push(SqlValue::Text(h));
        sql.push_str(&format!(" AND reservation = ?{}", vals.len()));
    }
    if tx.execute(&sql, params_from_iter(vals)).map_err(classify)? == 0 {
        return Ok(None);
    }
    node_by_id(tx, node.id).map(Some)
}

pub(super) fn node_by_id(conn: &Connection, id: i64) -> Result<Node, StoreError> {
    let sql = format!("{} WHERE nodes.id = ?1", select_sql());
    query_nodes(conn, &sql, &[SqlValue::Integer(id)])?
        .pop()
        .ok_or_else(|| StoreError::NotFound {
            what: "Node",
            id: id.to_string(),
        })
}

pub(super) fn node_lookup(conn: &Connection, ident: &str) -> Result<Option<Node>, StoreError> {
    let by_uuid = format!("{} WHERE nodes.uuid = ?1", select_sql());
    if let Some(n) = query_nodes(conn, &by_uuid, &[SqlValue::Text(ident.to_string())])?.pop() {
        return Ok(Some(n));
    }
    let by_name = format!("{} WHERE nodes.name = ?1", select_sql());
    Ok(query_nodes(conn, &by_name, &[SqlValue::Text(ident.to_string())])?.pop())
}
