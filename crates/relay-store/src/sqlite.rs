//! The embedded default: SQLite through rusqlite, pooled by r2d2, in WAL mode.

use std::path::Path;
use std::time::Duration;

use r2d2::ManageConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{ErrorCode, TransactionBehavior};

use crate::sql::{Backend, CONFLICT, Conn, Dialect, Param, Row, Value};
use crate::{Result, StoreError};

/// Set on every new connection. `synchronous=FULL` makes each commit durable before it returns:
/// an event trackd acknowledged must survive a power cut, and group commit keeps this cheap.
const CONNECTION_PRAGMAS: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA busy_timeout = 5000;
    PRAGMA foreign_keys = ON;
";

pub(crate) struct Sqlite {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

impl Sqlite {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                StoreError::Unavailable(format!("cannot create {}: {err}", dir.display()))
            })?;
        }
        let manager = SqliteConnectionManager::file(path)
            .with_init(|conn| conn.execute_batch(CONNECTION_PRAGMAS));
        // One connection up front, so that a bad path fails now and says why.
        manager.connect().map_err(|err| {
            StoreError::Unavailable(format!("cannot open {}: {err}", path.display()))
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(5))
            .build_unchecked(manager);
        Ok(Self { pool })
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>> {
        self.pool
            .get()
            .map_err(|err| StoreError::Unavailable(err.to_string()))
    }
}

impl Backend for Sqlite {
    const NAME: &'static str = "sqlite";

    fn read<T>(&self, work: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let conn = self.connection()?;
        work(&mut SqliteConn(&conn))
    }

    fn write<T>(&self, work: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut conn = self.connection()?;
        // IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead
        // of one failing when it upgrades a read lock.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_error)?;
        let value = work(&mut SqliteConn(&tx))?;
        tx.commit().map_err(map_error)?;
        Ok(value)
    }
}

struct SqliteConn<'c>(&'c rusqlite::Connection);

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let mut statement = self.0.prepare_cached(sql).map_err(map_error)?;
        let changed = statement
            .execute(rusqlite::params_from_iter(params))
            .map_err(map_error)?;
        Ok(changed as u64)
    }

    fn execute_rows(
        &mut self,
        sql: &str,
        rows: &mut dyn Iterator<Item = &[Param<'_>]>,
    ) -> Result<Vec<u64>> {
        // One cache lookup, then a bind and a step per row.
        let mut statement = self.0.prepare_cached(sql).map_err(map_error)?;
        rows.map(|row| {
            statement
                .execute(rusqlite::params_from_iter(row))
                .map(|changed| changed as u64)
                .map_err(map_error)
        })
        .collect()
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let mut statement = self.0.prepare_cached(sql).map_err(map_error)?;
        let columns = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(map_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_error)? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(match row.get_ref(index).map_err(map_error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(value) => Value::Int(value),
                    ValueRef::Real(value) => Value::Float(value),
                    ValueRef::Text(bytes) => {
                        Value::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                    ValueRef::Blob(_) => {
                        return Err(StoreError::Database(format!(
                            "column {index} holds a blob; Relay stores none"
                        )));
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql).map_err(map_error)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Int(value) => ToSqlOutput::Borrowed(ValueRef::Integer(*value)),
            Param::Float(value) => ToSqlOutput::Borrowed(ValueRef::Real(*value)),
            Param::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Param::Bool(value) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*value))),
            Param::TextArray(_) | Param::IntArray(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "arrays are bound on PostgreSQL only".into(),
                ));
            }
        })
    }
}

fn map_error(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => {
            tracing::warn!("constraint violation: {err}");
            StoreError::Conflict(CONFLICT.to_owned())
        }
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::SystemIoFailure,
        ) => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Database(err.to_string()),
    }
}
