//! Embedded schema migrations: `migrations/NNNN_*.sql`, applied in order, each in its own
//! transaction, progress in `PRAGMA user_version`. A landed migration is never edited.

use rusqlite::Connection;

use super::StoreError;

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
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current as usize > MIGRATIONS.len() {
        return Err(StoreError::Corrupt {
            column: "user_version",
            reason: format!(
                "database schema version {current} is newer than this ironbox ({})",
                MIGRATIONS.len()
            ),
        });
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(migration = name, "applied database migration");
    }
    Ok(())
}
