//! The store's SQL connection: one surface shaped like the parts of rusqlite the store's
//! modules use (`Connection`, `Transaction`, `prepare_cached` → `query_map`, `query_row`,
//! `params!`, `Row::get`, `OptionalExtension`, `Value`), over SQLite or PostgreSQL. The
//! modules write SQLite-style SQL once (`?N` placeholders); `dialect.rs` says, in one place,
//! what changes on its way to PostgreSQL. Rows are read into `Value`s first, so both
//! backends convert to Rust types by the same rules.

pub(super) mod dialect;
mod pg;
mod value;

use std::cell::Cell;

pub use pg::PgConn;
pub use value::{params_from_iter, FromSql, Params, ToSql, Value};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `params![a, b]`: a parameter list of mixed types, as rusqlite's macro.
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::sql::ToSql] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::sql::ToSql),+] as &[&dyn $crate::db::sql::ToSql] };
}
pub(crate) use params;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Sqlite(rusqlite::Error),
    #[error("{}", pg::describe(.0))]
    Pg(#[from] postgres::Error),
    #[error("database connection closed")]
    Closed,
    #[error("query returned no rows")]
    QueryReturnedNoRows,
    /// A column or parameter whose value does not fit the Rust or SQL type asked for.
    #[error("column {index}: {reason}")]
    Type { index: usize, reason: String },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::QueryReturnedNoRows,
            other => Error::Sqlite(other),
        }
    }
}

impl Error {
    /// The database was locked by another writer past the wait allowed (SQLite's busy
    /// timeout; on PostgreSQL a lock or serialization conflict): worth a retry later.
    pub fn is_busy(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::DatabaseBusy
            }
            Error::Pg(e) => e.code().is_some_and(|c| {
                [
                    postgres::error::SqlState::T_R_SERIALIZATION_FAILURE,
                    postgres::error::SqlState::T_R_DEADLOCK_DETECTED,
                    postgres::error::SqlState::LOCK_NOT_AVAILABLE,
                ]
                .contains(c)
            }),
            _ => false,
        }
    }

    /// For a UNIQUE violation, the columns as SQLite names them (`table.col, table.col`).
    pub fn unique_violation(&self) -> Option<String> {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, Some(msg)))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                msg.strip_prefix("UNIQUE constraint failed: ")
                    .map(str::to_string)
            }
            Error::Pg(e) => pg::unique_violation(e),
            _ => None,
        }
    }
}

/// One row, every column already read into a `Value`.
pub struct Row {
    values: Vec<Value>,
}

/// Column positions (rusqlite also takes names; the store's modules never do).
pub trait RowIndex {
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl Row {
    pub fn get<I: RowIndex, T: FromSql>(&self, idx: I) -> Result<T> {
        let index = idx.index();
        let v = self.values.get(index).ok_or_else(|| Error::Type {
            index,
            reason: "no such column".into(),
        })?;
        T::from_sql(v).map_err(|reason| Error::Type { index, reason })
    }
}

/// `.optional()` on a single-row result, as rusqlite's extension trait.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A connection to either database. Methods take `&self` as rusqlite's do.
pub enum Connection {
    Sqlite(rusqlite::Connection),
    /// Boxed: the client is three times a SQLite handle, and the pool moves connections.
    Pg(Box<PgConn>),
}

impl Connection {
    pub fn is_pg(&self) -> bool {
        matches!(self, Connection::Pg(_))
    }

    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let args = params.values()?;
        match self {
            Connection::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(args.iter()))?)
            }
            Connection::Pg(c) => c.execute(sql, &args),
        }
    }

    /// Several statements without parameters (DDL, tests).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Connection::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Connection::Pg(c) => c.batch(sql),
        }
    }

    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row) -> Result<T>,
    {
        let mut rows = self.rows(sql, params.values()?, 1)?;
        match rows.pop() {
            Some(r) => f(&r),
            None => Err(Error::QueryReturnedNoRows),
        }
    }

    /// `INSERT …` of a row with an `id` key, answering that id (SQLite's
    /// `last_insert_rowid()`, PostgreSQL's `RETURNING id`).
    pub fn insert_id<P: Params>(&self, sql: &str, params: P) -> Result<i64> {
        match self {
            Connection::Sqlite(c) => {
                self.execute(sql, params)?;
                Ok(c.last_insert_rowid())
            }
            Connection::Pg(_) => {
                self.query_row(&format!("{sql} RETURNING id"), params, |r| r.get(0))
            }
        }
    }

    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_string(),
        })
    }

    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare_cached(sql)
    }

    /// Every row of `sql` (at most `limit` when not 0).
    /// Each row handed to `f` as it is stepped (SQLite), so a long page is never held
    /// whole; `f` answers whether to go on. PostgreSQL's client reads the result first.
    fn each_row<E: From<Error>>(
        &self,
        sql: &str,
        args: Vec<Value>,
        f: &mut dyn FnMut(&Row) -> std::result::Result<bool, E>,
    ) -> std::result::Result<(), E> {
        match self {
            Connection::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql).map_err(Error::from)?;
                let width = stmt.column_count();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(args.iter()))
                    .map_err(Error::from)?;
                while let Some(r) = rows.next().map_err(Error::from)? {
                    let values = (0..width)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i).map(Value::from))
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(Error::from)?;
                    if !f(&Row { values })? {
                        break;
                    }
                }
                Ok(())
            }
            Connection::Pg(c) => {
                for values in c.query(sql, &args)? {
                    if !f(&Row { values })? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    fn rows(&self, sql: &str, args: Vec<Value>, limit: usize) -> Result<Vec<Row>> {
        match self {
            Connection::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let width = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let values = (0..width)
                        .map(|i| r.get::<_, rusqlite::types::Value>(i).map(Value::from))
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    out.push(Row { values });
                    if out.len() == limit {
                        break;
                    }
                }
                Ok(out)
            }
            Connection::Pg(c) => Ok(c
                .query(sql, &args)?
                .into_iter()
                .take(if limit == 0 { usize::MAX } else { limit })
                .map(|values| Row { values })
                .collect()),
        }
    }

    /// Start a write transaction. SQLite: IMMEDIATE (the write lock up front). PostgreSQL:
    /// the store's one writer lock (`pg_advisory_xact_lock`), so writers queue across
    /// processes as they do on SQLite and read-then-write code stays correct; `lazy`
    /// commits without waiting for the WAL flush (SQLite's `synchronous = NORMAL`).
    pub fn begin(&self, lazy: bool) -> Result<Transaction<'_>> {
        match self {
            Connection::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Connection::Pg(c) => c.begin(lazy)?,
        }
        Ok(Transaction {
            conn: self,
            open: Cell::new(true),
        })
    }

    /// A plain transaction (migrations).
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        self.execute_batch("BEGIN")?;
        Ok(Transaction {
            conn: self,
            open: Cell::new(true),
        })
    }
}

/// A transaction that rolls back unless committed; derefs to its connection.
pub struct Transaction<'c> {
    conn: &'c Connection,
    open: Cell<bool>,
}

impl Transaction<'_> {
    pub fn commit(self) -> Result<()> {
        self.open.set(false);
        self.conn.execute_batch("COMMIT")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open.get() {
            // Nothing to tell anyone: a failed rollback leaves the connection unusable,
            // and the next use of it fails with its own error.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A statement to run, possibly many times (SQLite caches its compiled form).
pub struct Statement<'c> {
    conn: &'c Connection,
    sql: String,
}

impl Statement<'_> {
    /// Every row mapped by `f` (read to the end first: results are small pages).
    pub fn query_map<T, P, F>(
        &mut self,
        params: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>>
    where
        P: Params,
        F: FnMut(&Row) -> Result<T>,
    {
        let rows = self.conn.rows(&self.sql, params.values()?, 0)?;
        Ok(rows.iter().map(&mut f).collect::<Vec<_>>().into_iter())
    }

    /// Every row handed to `f` as it comes (see `Connection::each_row`); `f` answers
    /// whether to go on.
    pub fn for_each<P, E>(
        &mut self,
        params: P,
        mut f: impl FnMut(&Row) -> std::result::Result<bool, E>,
    ) -> std::result::Result<(), E>
    where
        P: Params,
        E: From<Error>,
    {
        self.conn.each_row(&self.sql, params.values()?, &mut f)
    }

    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row) -> Result<T>,
    {
        self.conn.query_row(&self.sql, params, f)
    }
}
