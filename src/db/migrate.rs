//! Embedded schema migrations: `migrations/NNNN_*.sql`, applied in order, each in its own
//! transaction. A landed migration is never edited. Written for SQLite; PostgreSQL runs
//! each as `sql::dialect::ddl` rewrites it, after `migrations/pg/compat.sql` (SQLite's
//! functions). Progress: SQLite's `PRAGMA user_version`; PostgreSQL's `ironbox_schema`
//! table, under an advisory lock so members starting together apply each migration once.

use super::sql::{dialect, Connection};
use super::StoreError;

/// The SQLite functions the store's SQL calls, as PostgreSQL functions (re-created at
/// every start, so a fix to one lands without a migration).
const PG_COMPAT: &str = include_str!("../../migrations/pg/compat.sql");

const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        "0002_allocations",
        include_str!("../../migrations/0002_allocations.sql"),
    ),
    (
        "0003_deploy_templates",
        include_str!("../../migrations/0003_deploy_templates.sql"),
    ),
    (
        "0004_dhcp_leases",
        include_str!("../../migrations/0004_dhcp_leases.sql"),
    ),
    (
        "0005_bios_settings",
        include_str!("../../migrations/0005_bios_settings.sql"),
    ),
    (
        "0006_node_inventory",
        include_str!("../../migrations/0006_node_inventory.sql"),
    ),
    (
        "0007_nodes_state_counts",
        include_str!("../../migrations/0007_nodes_state_counts.sql"),
    ),
    (
        "0008_inspection_rules",
        include_str!("../../migrations/0008_inspection_rules.sql"),
    ),
    (
        "0010_firmware",
        include_str!("../../migrations/0010_firmware.sql"),
    ),
    (
        "0011_runbooks",
        include_str!("../../migrations/0011_runbooks.sql"),
    ),
    (
        "0012_volume",
        include_str!("../../migrations/0012_volume.sql"),
    ),
    (
        "0013_conductor_rpc",
        include_str!("../../migrations/0013_conductor_rpc.sql"),
    ),
    (
        "0014_list_sort_indexes",
        include_str!("../../migrations/0014_list_sort_indexes.sql"),
    ),
];

pub(super) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    if !conn.is_pg() {
        return apply_sqlite(conn);
    }
    let lock = super::sql::PgConn::MIGRATION_LOCK;
    conn.execute_batch(&format!("SELECT pg_advisory_lock({lock})"))?;
    let out = apply_pg(conn);
    let unlocked = conn.execute_batch(&format!("SELECT pg_advisory_unlock({lock})"));
    out?;
    Ok(unlocked?)
}

fn newer(current: i64) -> StoreError {
    StoreError::Corrupt {
        column: "user_version",
        reason: format!(
            "database schema version {current} is newer than this ironbox ({})",
            MIGRATIONS.len()
        ),
    }
}

fn apply_pg(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS ironbox_schema (version BIGINT NOT NULL); \
         INSERT INTO ironbox_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ironbox_schema);",
    )?;
    conn.execute_batch(PG_COMPAT)?;
    let current: i64 = conn.query_row("SELECT version FROM ironbox_schema", [], |r| r.get(0))?;
    if current as usize > MIGRATIONS.len() {
        return Err(newer(current));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(&dialect::ddl(sql))?;
        tx.execute("UPDATE ironbox_schema SET version = ?1", [(i + 1) as i64])?;
        tx.commit()?;
        tracing::info!(migration = name, "applied database migration");
    }
    Ok(())
}

fn apply_sqlite(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current as usize > MIGRATIONS.len() {
        return Err(newer(current));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(migration = name, "applied database migration");
    }
    Ok(())
}
