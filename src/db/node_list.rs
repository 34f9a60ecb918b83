//! Node lists as the API reads them: only the columns of the fields asked for (JSON blobs
//! left undecoded unless asked), every page range read by index (`keyset`), and each row
//! handed to the caller as it is stepped, so a page is never held as a `Vec<Node>`.

use std::time::{Duration, Instant};

use super::sql::Value as SqlValue;
use super::sql::{params_from_iter, Connection, Row};

use super::{json_obj, keyset, list_sql, NodeFilter, Page, Store, StoreError};
use crate::model::node::Node;

type Set = fn(&mut Node, &Row, usize) -> super::sql::Result<Result<(), StoreError>>;

/// A plain column: the field and the column share a name and a Rust type.
macro_rules! plain {
    ($f:ident) => {
        (
            stringify!($f),
            concat!("nodes.", stringify!($f)),
            (|n, r, i| {
                n.$f = r.get(i)?;
                Ok(Ok(()))
            }) as Set,
        )
    };
}

/// A JSON-object column, decoded only when read.
macro_rules! blob {
    ($f:ident) => {
        (
            stringify!($f),
            concat!("nodes.", stringify!($f)),
            (|n, r, i| Ok(json_obj(r.get(i)?, stringify!($f)).map(|v| n.$f = v))) as Set,
        )
    };
}

/// An interface column (`<kind>_interface`).
macro_rules! iface {
    ($kind:literal) => {
        (
            concat!($kind, "_interface"),
            concat!("nodes.", $kind, "_interface"),
            (|n, r, i| {
                n.interfaces.set($kind, r.get(i)?);
                Ok(Ok(()))
            }) as Set,
        )
    };
}

/// Every field the store can read, with the SQL that reads it and how it lands in a `Node`.
/// Fields computed elsewhere (the API's `conductor`) are not here.
pub(super) const READERS: &[(&str, &str, Set)] = &[
    plain!(uuid),
    plain!(name),
    plain!(driver),
    blob!(driver_info),
    blob!(driver_internal_info),
    blob!(properties),
    blob!(instance_info),
    plain!(instance_uuid),
    plain!(instance_name),
    blob!(extra),
    plain!(power_state),
    plain!(target_power_state),
    plain!(provision_state),
    plain!(target_provision_state),
    plain!(provision_updated_at),
    plain!(maintenance),
    plain!(maintenance_reason),
    plain!(fault),
    plain!(last_error),
    plain!(reservation),
    plain!(console_enabled),
    blob!(raid_config),
    blob!(target_raid_config),
    blob!(clean_step),
    blob!(deploy_step),
    blob!(service_step),
    plain!(inspection_started_at),
    plain!(inspection_finished_at),
    plain!(resource_class),
    plain!(conductor_group),
    plain!(automated_clean),
    plain!(protected),
    plain!(protected_reason),
    plain!(owner),
    plain!(lessee),
    plain!(description),
    plain!(retired),
    plain!(retired_reason),
    blob!(network_data),
    plain!(boot_mode),
    plain!(secure_boot),
    plain!(shard),
    plain!(parent_node),
    plain!(disable_power_off),
    plain!(health),
    plain!(created_at),
    plain!(updated_at),
    iface!("bios"),
    iface!("boot"),
    iface!("console"),
    iface!("deploy"),
    iface!("firmware"),
    iface!("inspect"),
    iface!("management"),
    iface!("network"),
    iface!("power"),
    iface!("raid"),
    iface!("rescue"),
    iface!("storage"),
    iface!("vendor"),
    ("chassis_uuid", "chassis.uuid", |n, r, i| {
        n.chassis_uuid = r.get(i)?;
        Ok(Ok(()))
    }),
    (
        "allocation_uuid",
        "(SELECT a.uuid FROM allocations a WHERE a.node_id = nodes.id)",
        |n, r, i| {
            n.allocation_uuid = r.get(i)?;
            Ok(Ok(()))
        },
    ),
    (
        "traits",
        "(SELECT json_group_array(trait) FROM (SELECT trait FROM node_traits t \
         WHERE t.node_id = nodes.id ORDER BY trait) AS tr)",
        |n, r, i| {
            let t: String = r.get(i)?;
            n.traits = serde_json::from_str(&t).unwrap_or_default();
            Ok(Ok(()))
        },
    ),
];

/// The readers of `fields` (every field: `None`), `uuid` always among them.
fn readers(fields: Option<&[String]>) -> Vec<(&'static str, Set)> {
    READERS
        .iter()
        .filter(|(f, ..)| *f == "uuid" || fields.is_none_or(|want| want.iter().any(|w| w == f)))
        .map(|(_, sql, set)| (*sql, *set))
        .collect()
}

/// Where one list's time went: stepping SQLite, decoding columns, the caller's writing.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListTimes {
    pub rows: usize,
    pub sql: Duration,
    pub decode: Duration,
    pub write: Duration,
}

/// The SELECT of `fields`' columns and, per page range, its `WHERE`/`ORDER BY` tail and
/// arguments (the LIMIT is the caller's: what is left of the page).
fn queries(
    conn: &Connection,
    filter: &NodeFilter,
    page: &Page,
    readers: &[(&'static str, Set)],
) -> Result<Vec<(String, Vec<SqlValue>)>, StoreError> {
    let cols: Vec<&str> = readers.iter().map(|(sql, _)| *sql).collect();
    let select = format!(
        "SELECT nodes.id, {} FROM nodes LEFT JOIN chassis ON chassis.id = nodes.chassis_id",
        cols.join(", ")
    );
    let mut base_args = Vec::new();
    let wheres = filter.sql(&mut base_args);
    let (ranges, order) = keyset::ranges(conn, "nodes", page, "Node", base_args.len())?;
    Ok(ranges
        .into_iter()
        .map(|range| {
            let mut args = base_args.clone();
            args.extend(range.args);
            (
                list_sql(&select, wheres.clone(), (range.cond, order.clone())),
                args,
            )
        })
        .collect())
}

pub(super) fn list_each(
    conn: &Connection,
    filter: &NodeFilter,
    page: &Page,
    fields: Option<&[String]>,
    each: &mut dyn FnMut(Node) -> Result<(), StoreError>,
) -> Result<ListTimes, StoreError> {
    let readers = readers(fields);
    let mut t = ListTimes::default();
    let mut left = page.limit as usize;
    for (sql, args) in queries(conn, filter, page, &readers)? {
        if left == 0 {
            break;
        }
        let mut stmt = conn.prepare_cached(&format!("{sql} LIMIT {left}"))?;
        let mut t0 = Instant::now();
        stmt.for_each(params_from_iter(args), |r| -> Result<bool, StoreError> {
            let t1 = Instant::now();
            let mut n = Node {
                id: r.get(0)?,
                ..Node::default()
            };
            for (i, (_, set)) in readers.iter().enumerate() {
                set(&mut n, r, i + 1)??;
            }
            let t2 = Instant::now();
            each(n)?;
            t.sql += t1 - t0;
            t.decode += t2 - t1;
            t.write += t2.elapsed();
            t.rows += 1;
            left -= 1;
            t0 = Instant::now();
            Ok(left > 0)
        })?;
        t.sql += t0.elapsed();
    }
    Ok(t)
}

impl Store {
    /// One page of nodes, each read with only the columns of `fields` (all: `None`; `uuid`
    /// always) and handed to `each` with `sink` as its row is stepped, on the store's
    /// thread. Gives `sink` back (with whatever `each` put in it) and where the time went.
    pub async fn node_list_each<S, F>(
        &self,
        filter: NodeFilter,
        page: Page,
        fields: Option<Vec<String>>,
        mut sink: S,
        each: F,
    ) -> Result<(S, ListTimes), StoreError>
    where
        S: Send + 'static,
        F: Fn(&mut S, Node) -> Result<(), StoreError> + Send + 'static,
    {
        self.read(move |conn| {
            let t = list_each(conn, &filter, &page, fields.as_deref(), &mut |n| {
                each(&mut sink, n)
            })?;
            Ok((sink, t))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a node list may sort by (the API's FIELDS less UNSORTABLE, and `id`).
    const SORT_KEYS: &[&str] = &[
        "id",
        "uuid",
        "name",
        "created_at",
        "updated_at",
        "driver",
        "instance_uuid",
        "instance_name",
        "last_error",
        "maintenance",
        "maintenance_reason",
        "fault",
        "power_state",
        "target_power_state",
        "provision_state",
        "target_provision_state",
        "provision_updated_at",
        "reservation",
        "console_enabled",
        "inspection_started_at",
        "inspection_finished_at",
        "resource_class",
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
        "conductor_group",
        "automated_clean",
        "protected",
        "protected_reason",
        "owner",
        "lessee",
        "description",
        "retired",
        "retired_reason",
        "boot_mode",
        "secure_boot",
        "shard",
        "disable_power_off",
        "health",
    ];

    /// Every column the store writes has a reader, so a full list loses nothing.
    #[test]
    fn every_column_has_a_reader() {
        for c in super::super::nodes::COLUMNS {
            assert!(READERS.iter().any(|(f, ..)| f == c), "no reader for {c}");
        }
    }

    /// Every sort key, both directions, page 1 and after a marker whose value is NULL or
    /// not: each range of the page is read from an index, seeking to the marker (SEARCH),
    /// never sorted in a temp B-tree. This is what keeps page 100 as cheap as page 1.
    #[test]
    fn every_page_range_is_an_index_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite"), 5000, 2).unwrap();
        let conn = store.connect().unwrap();
        for (uuid, set) in [("1a", false), ("2b", true)] {
            conn.execute(
                "INSERT INTO nodes (uuid, driver, provision_state, conductor_group, created_at) \
                 VALUES (?1, 'fake-hardware', 'enroll', '', '2026-01-01T00:00:00')",
                [uuid],
            )
            .unwrap();
            if set {
                for k in SORT_KEYS.iter().filter(|k| !matches!(**k, "id" | "uuid")) {
                    conn.execute(&format!("UPDATE nodes SET {k} = 'x' WHERE uuid = '2b'"), [])
                        .unwrap();
                }
            }
        }
        let readers = readers(Some(&["uuid".to_string(), "name".to_string()]));
        let notnull: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('nodes') WHERE \"notnull\"")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let notnull: Vec<&str> = notnull.iter().map(String::as_str).collect();
        for key in SORT_KEYS {
            for descending in [false, true] {
                for marker in [None, Some("1a"), Some("2b")] {
                    let page = Page {
                        limit: 1000,
                        marker: marker.map(str::to_string),
                        sort_key: key.to_string(),
                        descending,
                    };
                    let qs = queries(&conn, &NodeFilter::default(), &page, &readers).unwrap();
                    for (sql, args) in qs {
                        let mut stmt = conn
                            .prepare(&format!("EXPLAIN QUERY PLAN {sql} LIMIT 1000"))
                            .unwrap();
                        let plan: Vec<String> = stmt
                            .query_map(params_from_iter(args), |r| r.get(3))
                            .unwrap()
                            .map(Result::unwrap)
                            .collect();
                        let nodes = plan
                            .iter()
                            .find(|l| l.starts_with("SCAN nodes") || l.starts_with("SEARCH nodes"))
                            .cloned()
                            .unwrap_or_default();
                        // The NULL block of a NOT NULL column is empty; SQLite plans its
                        // range as a scan but it is read only once, after the last value.
                        let empty =
                            notnull.contains(key) && sql.contains(&format!("nodes.{key} IS NULL"));
                        let ok = empty
                            || !plan.iter().any(|l| l.contains("TEMP B-TREE"))
                            // By id the table itself is the index (its rowid B-tree).
                            && (nodes.contains("INDEX")
                                || nodes.contains("PRIMARY KEY")
                                || (*key == "id" && nodes == "SCAN nodes"))
                            && (marker.is_none() || nodes.starts_with("SEARCH"));
                        assert!(
                            ok,
                            "{key} desc={descending} marker={marker:?}: {plan:?}\n{sql}"
                        );
                    }
                }
            }
        }
    }
}
