//! The PostgreSQL side of the connection: SQLite-style SQL translated (`dialect.rs`),
//! parameters bound with the type their `Value` has, columns read back into `Value`s.

use std::cell::RefCell;

use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql as PgToSql, Type};

use super::{dialect, Error, Result, Value};

/// Advisory lock keys (any two fixed numbers of this application's own).
/// Held by each write transaction: one writer at a time, across processes.
const WRITER_LOCK: i64 = 0x1b0c_0001;

pub struct PgConn {
    /// `None` only while being dropped.
    client: RefCell<Option<postgres::Client>>,
}

/// The sync client blocks on a runtime of its own, which tokio forbids on its async threads:
/// a connection dropped there (a store dropped in async code) is closed on a thread of its own.
impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

/// A `Value` bound as the type declared for it (see `types`).
#[derive(Debug)]
struct Bind<'a>(&'a Value);

impl PgToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => i.to_sql(ty, out),
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// The type each parameter is declared with. A NULL has none of its own: first let the
/// server infer it from where it is used (`UNKNOWN`); where that is impossible
/// (`$1 IS NULL`), call it TEXT.
fn types(args: &[Value], null: &Type) -> Vec<Type> {
    args.iter()
        .map(|v| match v {
            Value::Null => null.clone(),
            Value::Integer(_) => Type::INT8,
            Value::Real(_) => Type::FLOAT8,
            Value::Text(_) => Type::TEXT,
            Value::Blob(_) => Type::BYTEA,
        })
        .collect()
}

fn indeterminate(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::INDETERMINATE_DATATYPE)
}

impl PgConn {
    /// Advisory lock key held while migrations run, so members starting together apply
    /// each one once.
    pub const MIGRATION_LOCK: i64 = 0x1b0c_0002;

    pub fn connect(config: &postgres::Config) -> Result<PgConn> {
        let client = config.connect(postgres::NoTls)?;
        Ok(PgConn {
            client: RefCell::new(Some(client)),
        })
    }

    fn with_binds<T>(
        &self,
        sql: &str,
        args: &[Value],
        run: impl Fn(
            &mut postgres::Client,
            &str,
            &[(&(dyn PgToSql + Sync), Type)],
        ) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let sql = dialect::translate(sql);
        let binds: Vec<Bind> = args.iter().map(Bind).collect();
        let mut guard = self.client.borrow_mut();
        let client = guard.as_mut().ok_or(Error::Closed)?;
        let attempt = |client: &mut postgres::Client, null: &Type| {
            let params: Vec<(&(dyn PgToSql + Sync), Type)> = binds
                .iter()
                .zip(types(args, null))
                .map(|(b, t)| (b as &(dyn PgToSql + Sync), t))
                .collect();
            run(client, &sql, &params)
        };
        match attempt(client, &Type::UNKNOWN) {
            Err(e) if indeterminate(&e) && args.contains(&Value::Null) => {
                Ok(attempt(client, &Type::TEXT)?)
            }
            other => Ok(other?),
        }
    }

    pub fn execute(&self, sql: &str, args: &[Value]) -> Result<usize> {
        let n = self.with_binds(sql, args, |c, sql, p| c.execute_typed(sql, p))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Vec<Value>>> {
        let rows = self.with_binds(sql, args, |c, sql, p| c.query_typed(sql, p))?;
        rows.iter().map(read_row).collect()
    }

    pub fn batch(&self, sql: &str) -> Result<()> {
        let mut guard = self.client.borrow_mut();
        Ok(guard.as_mut().ok_or(Error::Closed)?.batch_execute(sql)?)
    }

    pub fn begin(&self, lazy: bool) -> Result<()> {
        let sync = if lazy {
            "SET LOCAL synchronous_commit = off;"
        } else {
            ""
        };
        self.batch(&format!(
            "BEGIN; {sync} SELECT pg_advisory_xact_lock({WRITER_LOCK});"
        ))
    }
}

/// Every column as a `Value`: integers and booleans as Integer, as SQLite would hold them.
fn read_row(row: &postgres::Row) -> Result<Vec<Value>> {
    let cell = |e: postgres::Error| Error::Pg(e);
    (0..row.len())
        .map(|i| {
            let ty = row.columns().get(i).map(|c| c.type_().clone());
            let v = match ty {
                Some(Type::INT8) => row
                    .try_get::<_, Option<i64>>(i)
                    .map_err(cell)?
                    .map(Value::Integer),
                Some(Type::INT4) => row
                    .try_get::<_, Option<i32>>(i)
                    .map_err(cell)?
                    .map(|v| Value::Integer(v.into())),
                Some(Type::INT2) => row
                    .try_get::<_, Option<i16>>(i)
                    .map_err(cell)?
                    .map(|v| Value::Integer(v.into())),
                Some(Type::BOOL) => row
                    .try_get::<_, Option<bool>>(i)
                    .map_err(cell)?
                    .map(|v| Value::Integer(v.into())),
                Some(Type::FLOAT8) => row
                    .try_get::<_, Option<f64>>(i)
                    .map_err(cell)?
                    .map(Value::Real),
                Some(Type::FLOAT4) => row
                    .try_get::<_, Option<f32>>(i)
                    .map_err(cell)?
                    .map(|v| Value::Real(v.into())),
                Some(Type::BYTEA) => row
                    .try_get::<_, Option<Vec<u8>>>(i)
                    .map_err(cell)?
                    .map(Value::Blob),
                Some(Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN) => row
                    .try_get::<_, Option<String>>(i)
                    .map_err(cell)?
                    .map(Value::Text),
                other => {
                    return Err(Error::Type {
                        index: i,
                        reason: format!("PostgreSQL type {other:?} is not read by the store"),
                    })
                }
            };
            Ok(v.unwrap_or(Value::Null))
        })
        .collect()
}

/// `table.col, table.col` of a UNIQUE violation, from PostgreSQL's
/// `Key (col, col)=(…) already exists.` (only the names: the values may be secret).
pub(super) fn unique_violation(e: &postgres::Error) -> Option<String> {
    let db = e.as_db_error()?;
    if db.code() != &SqlState::UNIQUE_VIOLATION {
        return None;
    }
    let table = db.table()?;
    let cols = db.detail()?.strip_prefix("Key (")?.split(")=").next()?;
    Some(
        cols.split(", ")
            .map(|c| format!("{table}.{}", c.trim_matches('"')))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// PostgreSQL's own message (the client's Display says only "db error"); never the
/// detail, which may quote row values.
pub(super) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        // "error connecting to server" alone would hide the reason (refused, timed out…).
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}
