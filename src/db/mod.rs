//! The store: the only module that holds SQL, on SQLite (the default) or PostgreSQL through
//! one connection layer (`sql/`, which also says how the dialects differ).
//! Every call runs on tokio's blocking pool with a pooled connection (WAL, foreign keys,
//! busy timeout), so no database work ever blocks the async runtime. The few `*_blocking`
//! methods are for the boot servers' own threads (DHCP), which must not hop threads.
//!
//! Durability, per class of write (an appliance on a USB stick loses power):
//! - Everything a client is told happened — API writes (nodes, ports, portgroups, chassis,
//!   allocations, deploy templates, traits, BIOS settings…), conductor state changes and
//!   DHCP leases — is durable before the answer: every connection runs `synchronous =
//!   FULL`, so a commit returns only after the WAL is fsynced. (`NORMAL` survives a process
//!   crash but not a power loss.) Measured cheap enough to apply everywhere: bench/README.md.
//! - Node history rows (`history_add`), node locks (`node_reserve`/`node_release`: a
//!   restart releases them all) and conductor heartbeats answer nobody: they commit with
//!   `NORMAL` (`write_batched`), become durable with the next FULL commit or checkpoint,
//!   and a power cut may drop the last few.
//! - DHCP ACKs leave only after the commit of their lease (`boot/dhcp/persist.rs`).
//!
//! tests/integration/powerloss.rs cuts a VM's power under load and checks all of it.

mod allocations;
mod bios;
mod boot;
mod changes;
mod chassis;
mod conductors;
mod copy;
mod deploy_templates;
mod firmware;
mod history;
mod inspection;
mod inspection_rules;
mod inventory;
mod keyset;
mod machines;
mod migrate;
mod node_list;
mod nodes;
mod portgroups;
mod ports;
mod runbooks;
pub(crate) mod sql;
mod volume;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::OpenFlags;
use sql::{Connection, Value as SqlValue};

pub use allocations::AllocationFilter;
pub use bios::BiosRow;
pub use boot::{LeaseRow, LeaseWrite, MacOwner};
pub use changes::{Change, ChangeKind};
pub use conductors::HeldNode;
pub use copy::Copied;
pub use inspection::InspectionSaved;
pub use machines::NodeAddresses;
pub use node_list::ListTimes;
pub use nodes::NodeFilter;
pub use portgroups::PortgroupFilter;
pub use ports::PortFilter;
pub use runbooks::RunbookFilter;
pub use volume::{VolumeFilter, VolumeRecord};

/// `synchronous` of every connection: a commit is on disk when it returns.
const DURABLE: &str = "FULL";
/// `synchronous` of commits that may be lost to a power cut (see the header).
const BATCHED: &str = "NORMAL";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sql::Error),
    /// A UNIQUE constraint failed; `column` is `table.column` as SQLite names it.
    #[error("duplicate value for {column}")]
    Duplicate { column: String },
    /// A row that must exist does not (e.g. a pagination marker).
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("corrupt value in column {column}: {reason}")]
    Corrupt {
        column: &'static str,
        reason: String,
    },
    #[error("database worker failed: {0}")]
    Worker(String),
    /// `[database] connection` names a database this store cannot use.
    #[error("{0}")]
    Location(String),
    #[error("cannot prepare database directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The row a lookup must find: `NotFound` only when there is none. Any other failure (a
/// busy or locked database) stays a database error, which the API answers with 503 or 500,
/// never 404.
fn must_find<T>(found: sql::Result<T>, what: &'static str, id: &str) -> Result<T, StoreError> {
    match found {
        Err(sql::Error::QueryReturnedNoRows) => Err(StoreError::NotFound {
            what,
            id: id.to_string(),
        }),
        other => Ok(other?),
    }
}

/// Map UNIQUE violations to `Duplicate` so callers can name the conflict.
fn classify(e: sql::Error) -> StoreError {
    match e.unique_violation() {
        Some(column) => StoreError::Duplicate { column },
        None => StoreError::Db(e),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.into())
    }
}

impl StoreError {
    /// Another writer held the database past the wait allowed: answer "retry later".
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Db(e) if e.is_busy())
    }
}

/// Where the store lives: `[database] connection`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A `postgresql://` URL (libpq's URL form, as SQLAlchemy's without a `+driver`).
    Postgres(String),
}

impl Location {
    /// The PostgreSQL client settings of a URL, or why it is unusable.
    pub fn pg_config(url: &str) -> Result<postgres::Config, StoreError> {
        let url = url.replacen("postgresql+psycopg2://", "postgresql://", 1);
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Location(format!("bad PostgreSQL URL: {e}")))?;
        if config.get_dbname().is_none() {
            return Err(StoreError::Location(
                "PostgreSQL URL names no database (postgresql://user:pass@host:port/DBNAME)".into(),
            ));
        }
        Ok(config)
    }
}

/// One page of a list: sort column, direction, where to start, how many.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: u32,
    /// UUID of the last item already seen.
    pub marker: Option<String>,
    /// Column to sort on (already checked against the resource's sortable columns).
    pub sort_key: String,
    pub descending: bool,
}

impl Page {
    /// Every row (up to 10,000) in id order: for walks over a whole table, not API lists.
    pub fn all() -> Page {
        Page {
            limit: 10_000,
            marker: None,
            sort_key: "id".into(),
            descending: false,
        }
    }
}

/// Bytes the -wal file is cut back to when SQLite starts it over after a checkpoint: about
/// one auto-checkpoint's worth (1000 pages), so normal operation never re-grows it.
const WAL_SIZE_LIMIT: i64 = 4 << 20;

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// PostgreSQL's client settings; `None` for SQLite at `path`.
    pg: Option<postgres::Config>,
    busy_timeout_ms: u32,
    max_idle: usize,
    idle: Mutex<Vec<Connection>>,
    /// Held by this process's writer from BEGIN to COMMIT (see `commit`).
    writer: Mutex<()>,
    /// Bumped after every committed write to `ports` (see `ports_changed`).
    port_changes: AtomicU64,
    /// All port MACs, with the `port_changes` value they were read at (`mac_known_blocking`).
    macs: Mutex<Option<(u64, HashSet<crate::model::mac::Mac>)>>,
    /// The boot network's recent events (memory only): carried here because the boot
    /// servers and the API both hold the store and may not know each other.
    netlog: crate::model::netlog::NetLog,
    /// Committed writes of nodes, ports and history, for live views (`changes.rs`).
    changes: tokio::sync::broadcast::Sender<Change>,
}

impl Store {
    /// Open (creating if needed) the SQLite database and apply pending migrations.
    pub fn open(
        path: &Path,
        busy_timeout_ms: u32,
        max_pool_size: u32,
    ) -> Result<Store, StoreError> {
        Store::open_at(
            &Location::Sqlite(path.to_path_buf()),
            busy_timeout_ms,
            max_pool_size,
        )
    }

    /// Open the database at `location` and apply pending migrations.
    pub fn open_at(
        location: &Location,
        busy_timeout_ms: u32,
        max_pool_size: u32,
    ) -> Result<Store, StoreError> {
        if matches!(location, Location::Postgres(_)) {
            // PostgreSQL's sync client may not block an async thread (see `PgConn`'s drop).
            return std::thread::scope(|s| {
                s.spawn(|| Store::open_here(location, busy_timeout_ms, max_pool_size))
                    .join()
                    .map_err(|_| StoreError::Worker("opening the database panicked".into()))?
            });
        }
        Store::open_here(location, busy_timeout_ms, max_pool_size)
    }

    fn open_here(
        location: &Location,
        busy_timeout_ms: u32,
        max_pool_size: u32,
    ) -> Result<Store, StoreError> {
        let (path, pg) = match location {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                (path.clone(), None)
            }
            Location::Postgres(url) => {
                let mut config = Location::pg_config(url)?;
                config.connect_timeout(std::time::Duration::from_secs(10));
                (PathBuf::new(), Some(config))
            }
        };
        let store = Store {
            inner: Arc::new(Inner {
                path,
                pg,
                busy_timeout_ms,
                max_idle: max_pool_size as usize,
                idle: Mutex::new(Vec::new()),
                writer: Mutex::new(()),
                port_changes: AtomicU64::new(0),
                macs: Mutex::new(None),
                netlog: Default::default(),
                changes: changes::channel(),
            }),
        };
        let mut conn = store.connect()?;
        if let Connection::Sqlite(c) = &conn {
            c.pragma_update(None, "journal_mode", "WAL")?;
        }
        migrate::apply(&mut conn)?;
        store.put_back(conn);
        Ok(store)
    }

    /// The boot network's recent events (see `model::netlog`).
    pub fn netlog(&self) -> &crate::model::netlog::NetLog {
        &self.inner.netlog
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        if let Some(config) = &self.inner.pg {
            return Ok(Connection::Pg(Box::new(sql::PgConn::connect(config)?)));
        }
        let conn = rusqlite::Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_millis(
            self.inner.busy_timeout_ms.into(),
        ))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", DURABLE)?;
        conn.set_prepared_statement_cache_capacity(64);
        // Without a limit the -wal file keeps its largest size ever (a burst written while
        // readers held back the checkpoint) for the life of the database.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        Ok(Connection::Sqlite(conn))
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
        match pooled {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            if idle.len() < self.inner.max_idle {
                idle.push(conn);
            }
        }
    }

    /// Run read-only work on a pooled connection, off the async runtime.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = store.take()?;
            let out = f(&conn);
            store.put_back(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// Run work in one IMMEDIATE transaction (takes the write lock up front, so two writers
    /// queue on the busy timeout instead of failing on a read-to-write upgrade), durable
    /// when this returns.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&sql::Transaction) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_blocking(f))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// `write` for rows that may be lost to a power cut (see the header): committed with
    /// `synchronous = NORMAL`, so made durable by the next durable commit or checkpoint.
    async fn write_batched<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&sql::Transaction) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.commit(BATCHED, f))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    /// `write` on the calling thread, for callers that are their own blocking thread.
    fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&sql::Transaction) -> Result<T, StoreError>,
    {
        self.commit(DURABLE, f)
    }

    /// One IMMEDIATE transaction committed at `sync` (a `synchronous` level); the pooled
    /// connection always goes back at `DURABLE`, or not at all.
    fn commit<T, F>(&self, sync: &str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&sql::Transaction) -> Result<T, StoreError>,
    {
        let conn = self.take()?;
        let lazy = sync != DURABLE;
        let pragma = |sync: &str| match &conn {
            Connection::Sqlite(c) => c.pragma_update(None, "synchronous", sync),
            // PostgreSQL's counterpart is per transaction (`begin`).
            Connection::Pg(_) => Ok(()),
        };
        let out = (|| {
            if lazy {
                pragma(sync)?;
            }
            // One writer at a time: the others wait here and wake as soon as it commits,
            // rather than in SQLite's busy handler, whose sleeps (up to 100 ms each) let a
            // waiting writer starve for seconds once every commit holds the lock for an fsync.
            let _turn = self
                .inner
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let tx = conn.begin(lazy)?;
            let v = f(&tx)?;
            tx.commit().map_err(classify)?;
            Ok(v)
        })();
        if !lazy || pragma(DURABLE).is_ok() {
            self.put_back(conn);
        }
        out
    }

    /// Every write that adds, removes or re-addresses a port calls this after its commit,
    /// so cached MAC lookups (`mac_known_blocking`) reload. Inside `db` only: callers of the
    /// store never have to remember it.
    fn ports_changed(&self) {
        self.inner.port_changes.fetch_add(1, Ordering::Release);
    }

    /// A consistent online copy of the database at `dest` (VACUUM INTO reads one snapshot).
    pub async fn backup(&self, dest: PathBuf) -> Result<(), StoreError> {
        self.read(move |conn| {
            if conn.is_pg() {
                return Err(StoreError::Location(
                    "online backup copies SQLite stores only: back up PostgreSQL with pg_dump"
                        .into(),
                ));
            }
            let dest = dest.to_string_lossy().into_owned();
            conn.execute("VACUUM INTO ?1", [dest])?;
            Ok(())
        })
        .await
    }

    /// The schema as SQL text (for the golden schema test).
    pub async fn schema_dump(&self) -> Result<String, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC, name",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = String::new();
            for r in rows {
                out.push_str(&r?);
                out.push_str(";\n");
            }
            Ok(out)
        })
        .await
    }
}

/// A store for a test: SQLite in `dir`, or, when `IRONBOX_TEST_PG_URL` is set, a schema of
/// its own in that PostgreSQL database (so tests run in parallel; `tests/lab/pg.sh`).
#[cfg(test)]
pub(crate) fn test_store(dir: &Path, pool: u32) -> Store {
    let Some(url) = std::env::var("IRONBOX_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return Store::open(&dir.join("t.sqlite"), 5000, pool).unwrap();
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let create = format!("CREATE SCHEMA {schema}");
    let admin = url.clone();
    // Off the test's async thread, where the sync client may not block.
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        admin.batch_execute(&create).unwrap();
    })
    .join()
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    Store::open_at(&Location::Postgres(url), 5000, pool).unwrap()
}

/// `WHERE` fragment and ORDER/LIMIT for keyset pagination on (sort column, id), in one
/// query (see `keyset`; node and port lists read its ranges one by one instead).
fn page_sql(
    conn: &Connection,
    table: &str,
    page: &Page,
    what: &'static str,
    args: &mut Vec<SqlValue>,
) -> Result<(String, String), StoreError> {
    let (ranges, order) = keyset::ranges(conn, table, page, what, args.len())?;
    let cond = keyset::one_condition(ranges, args);
    Ok((cond, format!("{order} LIMIT {}", page.limit)))
}

/// Run `sql` and map every row with `from_row` (which may reject a corrupt value).
fn query_rows<T>(
    conn: &Connection,
    sql: &str,
    args: &[SqlValue],
    from_row: fn(&sql::Row) -> sql::Result<Result<T, StoreError>>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(sql::params_from_iter(args), from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

/// The one row of `table` whose uuid, else whose name, is `ident` (deploy templates and
/// runbooks answer to either).
fn by_uuid_or_name<T>(
    conn: &Connection,
    select: &str,
    table: &str,
    ident: &str,
    from_row: fn(&sql::Row) -> sql::Result<Result<T, StoreError>>,
) -> Result<Option<T>, StoreError> {
    for col in ["uuid", "name"] {
        let sql = format!("{select} WHERE {table}.{col} = ?1");
        let found = query_rows(conn, &sql, &[SqlValue::Text(ident.to_string())], from_row)?;
        if let Some(row) = found.into_iter().next() {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// `select` + `WHERE` (filters and the page's marker condition) + the page's ORDER/LIMIT.
fn list_sql(select: &str, mut wheres: Vec<String>, (cond, tail): (String, String)) -> String {
    if !cond.is_empty() {
        wheres.push(cond);
    }
    let mut sql = select.to_string();
    if !wheres.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&wheres.join(" AND "));
    }
    sql.push_str(&tail);
    sql
}

/// Helpers to read and write JSON-object TEXT columns.
fn json_obj(s: String, column: &'static str) -> Result<crate::model::JsonObject, StoreError> {
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

fn json_text(v: &crate::model::JsonObject) -> SqlValue {
    SqlValue::Text(serde_json::Value::Object(v.clone()).to_string())
}

fn opt_text(v: &Option<String>) -> SqlValue {
    v.as_ref()
        .map_or(SqlValue::Null, |s| SqlValue::Text(s.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst written while a reader holds the checkpoint back grows the -wal file; once
    /// the reader is gone and the log starts over, the file is cut back to the limit.
    #[test]
    fn the_wal_file_shrinks_back_after_a_burst() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.sqlite");
        let store = Store::open(&db, 5000, 2).unwrap();
        let wal = || std::fs::metadata(dir.path().join("t.sqlite-wal")).map_or(0, |m| m.len());
        let w = store.connect().unwrap();
        w.execute_batch("CREATE TABLE burst (b BLOB)").unwrap();
        let reader = store.connect().unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM nodes;")
            .unwrap();
        for _ in 0..150 {
            w.execute("INSERT INTO burst VALUES (zeroblob(65536))", [])
                .unwrap();
        }
        assert!(wal() > 8 << 20, "the burst grew the log: {}", wal());
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        w.execute_batch("PRAGMA wal_checkpoint(PASSIVE); DELETE FROM burst;")
            .unwrap();
        w.execute("INSERT INTO burst VALUES (x'00')", []).unwrap();
        assert!(wal() <= WAL_SIZE_LIMIT as u64, "cut back: {}", wal());
    }

    #[test]
    fn only_a_missing_row_is_not_found() {
        let conn = Connection::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.execute_batch("CREATE TABLE t (id INTEGER)").unwrap();
        let id = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        let none = must_find(id("SELECT id FROM t"), "Node", "n");
        assert!(matches!(
            none,
            Err(StoreError::NotFound { what: "Node", .. })
        ));
        let broken = must_find(id("SELECT id FROM missing"), "Node", "n");
        assert!(matches!(broken, Err(StoreError::Db(_))), "{broken:?}");
        let busy = sql::Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        let busy = must_find::<i64>(Err(busy), "Node", "n");
        assert!(busy.as_ref().is_err_and(StoreError::is_busy), "{busy:?}");
    }

    /// Migrations applied to an empty database give exactly the reviewed schema.
    /// `UPDATE_GOLDEN=1 cargo test` rewrites the golden file; review its diff like code.
    #[tokio::test]
    async fn schema_matches_golden() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite"), 1000, 1).unwrap();
        let schema = store.schema_dump().await.unwrap();
        let golden =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/schema.sql");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &schema).unwrap();
        }
        assert!(schema == std::fs::read_to_string(&golden).unwrap_or_default(), "schema differs from tests/golden/schema.sql: rerun with UPDATE_GOLDEN=1 and review the diff");
    }

    #[tokio::test]
    async fn reopening_applies_nothing_twice_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        drop(Store::open(&path, 1000, 1).unwrap());
        drop(Store::open(&path, 1000, 1).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = Store::open(&path, 1000, 1)
            .err()
            .expect("newer schema refused")
            .to_string();
        assert!(err.contains("newer than this ironbox"), "{err}");
    }
}
