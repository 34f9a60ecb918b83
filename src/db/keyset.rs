//! Keyset paging: the rows after a marker on (sort column, id) as one or two index-backed
//! ranges, so page 100 costs what page 1 does (no OFFSET, no scan up to the marker).
//!
//! Order is SQLite's: NULLs first ascending, last descending (Ironic on SQLite/MySQL sorts
//! the same way). PostgreSQL's default differs, so its `ORDER BY` says `NULLS FIRST`/`LAST`.

use super::sql::Value as SqlValue;
use super::sql::{Connection, OptionalExtension};

use super::{Page, StoreError};

/// One range of a page: its `WHERE` condition (empty: none) and the arguments it binds,
/// numbered after the `base` arguments the caller already has.
#[derive(Debug)]
pub(super) struct Range {
    pub cond: String,
    pub args: Vec<SqlValue>,
}

/// The ranges a page reads in order (each one index-backed on `(sort column, id)`), and the
/// `ORDER BY` every range uses. One range unless the marker sits on one side of the NULL
/// block and the page may go on past it: then the rest of the marker's side, then the other
/// side, read one after the other until the page is full.
pub(super) fn ranges(
    conn: &Connection,
    table: &str,
    page: &Page,
    what: &'static str,
    base: usize,
) -> Result<(Vec<Range>, String), StoreError> {
    let col = format!("{table}.{}", page.sort_key);
    let dir = if page.descending { "DESC" } else { "ASC" };
    // PostgreSQL's default is the opposite of SQLite's; say SQLite's order there.
    let nulls = match (conn.is_pg(), page.descending) {
        (false, _) => "",
        (true, false) => " NULLS FIRST",
        (true, true) => " NULLS LAST",
    };
    let order = if page.sort_key == "id" {
        format!(" ORDER BY {table}.id {dir}")
    } else {
        format!(" ORDER BY {col} {dir}{nulls}, {table}.id {dir}")
    };
    let Some(marker) = &page.marker else {
        return Ok((vec![Range::all()], order));
    };
    let sql = format!("SELECT {col}, {table}.id FROM {table} WHERE {table}.uuid = ?1");
    let (mval, mid) = conn
        .query_row(&sql, [marker], |r| {
            Ok((r.get::<_, SqlValue>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            what,
            id: marker.clone(),
        })?;
    let (m, i) = (base + 1, base + 2);
    let lt = if page.descending { "<" } else { ">" };
    if page.sort_key == "id" {
        return Ok((
            vec![Range {
                cond: format!("{table}.id {lt} ?{m}"),
                args: vec![SqlValue::Integer(mid)],
            }],
            order,
        ));
    }
    let ranges = match (mval, page.descending) {
        // Ascending past a value: only larger values follow (NULLs came first).
        (SqlValue::Null, false) => vec![
            Range {
                cond: format!("{col} IS NULL AND {table}.id > ?{m}"),
                args: vec![SqlValue::Integer(mid)],
            },
            Range {
                cond: format!("{col} IS NOT NULL"),
                args: vec![],
            },
        ],
        (SqlValue::Null, true) => vec![Range {
            cond: format!("{col} IS NULL AND {table}.id < ?{m}"),
            args: vec![SqlValue::Integer(mid)],
        }],
        (v, false) => vec![Range {
            cond: format!("({col}, {table}.id) > (?{m}, ?{i})"),
            args: vec![v, SqlValue::Integer(mid)],
        }],
        // Descending past a value: smaller values, then the NULLs.
        (v, true) => vec![
            Range {
                cond: format!("({col}, {table}.id) < (?{m}, ?{i})"),
                args: vec![v, SqlValue::Integer(mid)],
            },
            Range {
                cond: format!("{col} IS NULL"),
                args: vec![],
            },
        ],
    };
    Ok((ranges, order))
}

impl Range {
    fn all() -> Range {
        Range {
            cond: String::new(),
            args: vec![],
        }
    }
}

/// The ranges as one condition, for lists that read a page in one query: their OR, the
/// arguments appended to `args` (numbered from its length, as `ranges` was told). Only the
/// first range of a page binds arguments, so the numbers never clash.
pub(super) fn one_condition(ranges: Vec<Range>, args: &mut Vec<SqlValue>) -> String {
    if ranges.iter().any(|r| r.cond.is_empty()) {
        return String::new();
    }
    let conds: Vec<String> = ranges.iter().map(|r| format!("({})", r.cond)).collect();
    args.extend(ranges.into_iter().flat_map(|r| r.args));
    format!("({})", conds.join(" OR "))
}
