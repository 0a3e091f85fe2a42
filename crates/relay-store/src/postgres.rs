//! PostgreSQL through the synchronous `postgres` crate, pooled by r2d2.
//!
//! The sync client runs its own small runtime and panics when called on a tokio worker thread:
//! async callers (trackd) reach the store through `spawn_blocking`.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{GenericClient, NoTls, Statement};
use r2d2::ManageConnection;

use crate::sql::{Backend, Conn, Dialect, Param, Row, Value};
use crate::{Result, StoreError};

/// A pooled connection and the statements prepared on it. Relay's SQL is a fixed set of texts,
/// so each is parsed once per connection and then only bound and executed: one round trip per
/// statement instead of two.
pub(crate) struct PgClient {
    client: postgres::Client,
    statements: HashMap<String, Statement>,
}

/// More distinct statement texts than Relay has; a safety bound, not a tuning knob.
const MAX_CACHED_STATEMENTS: usize = 256;

struct Manager {
    config: postgres::Config,
}

impl ManageConnection for Manager {
    type Connection = PgClient;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<PgClient, postgres::Error> {
        Ok(PgClient {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgClient) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(drop)
    }

    fn has_broken(&self, conn: &mut PgClient) -> bool {
        conn.client.is_closed()
    }
}

pub(crate) struct Postgres {
    /// Always `Some` until `drop` takes it away.
    pool: Option<r2d2::Pool<Manager>>,
}

/// Closing a sync client runs a small runtime of its own, which panics on a thread that is
/// driving tokio. The last store handle may well be dropped on one (trackd's shutdown), so the
/// pool is closed on a thread of its own, and waited for.
impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl Postgres {
    pub(crate) fn open(url: &str) -> Result<Self> {
        let mut config = postgres::Config::from_str(url).map_err(|err| {
            StoreError::Invalid(relay_core::ValidationError::new(
                "PostgreSQL URL",
                // Never echo the URL: it may hold a password.
                "postgres://…",
                format!("{err}; expected postgres://user:password@host:port/dbname"),
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A stalled database must not hold a request, or shutdown, forever. Settings given in
        // the URL's own `options` come later and win.
        let given = config.get_options().unwrap_or("").to_owned();
        config.options(&format!(
            "-c statement_timeout=30000 -c lock_timeout=10000 {given}"
        ));
        let manager = Manager { config };
        // One connection up front, so that an unreachable server fails now and says why.
        let first = manager
            .connect()
            .map_err(|err| StoreError::Unavailable(describe(&err)))?;
        drop(first);
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .connection_timeout(Duration::from_secs(5))
            .build_unchecked(manager);
        Ok(Self { pool: Some(pool) })
    }

    fn client(&self) -> Result<r2d2::PooledConnection<Manager>> {
        self.pool
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the store is closing".to_owned()))?
            .get()
            .map_err(|err| StoreError::Unavailable(err.to_string()))
    }
}

impl Backend for Postgres {
    const NAME: &'static str = "postgres";

    fn read<T>(&self, work: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut pooled = self.client()?;
        let PgClient { client, statements } = &mut *pooled;
        work(&mut PgConn { client, statements })
    }

    fn write<T>(&self, work: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut pooled = self.client()?;
        let PgClient { client, statements } = &mut *pooled;
        let mut tx = client.transaction().map_err(map_error)?;
        let value = work(&mut PgConn {
            client: &mut tx,
            statements,
        })?;
        tx.commit().map_err(map_error)?;
        Ok(value)
    }
}

struct PgConn<'c, C: GenericClient> {
    client: &'c mut C,
    statements: &'c mut HashMap<String, Statement>,
}

impl<C: GenericClient> PgConn<'_, C> {
    /// The statement for `sql`, prepared on this connection once.
    fn prepared(&mut self, sql: &str) -> Result<Statement> {
        let sql = placeholders(sql);
        if let Some(statement) = self.statements.get(&sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&sql).map_err(map_error)?;
        if self.statements.len() >= MAX_CACHED_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// `?1` → `$1`. Relay's SQL has no `?` inside string literals.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn bind<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl<C: GenericClient> Conn for PgConn<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let statement = self.prepared(sql)?;
        self.client
            .execute(&statement, &bind(params))
            .map_err(map_error)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let statement = self.prepared(sql)?;
        let rows = self
            .client
            .query(&statement, &bind(params))
            .map_err(map_error)?;
        rows.iter().map(read_row).collect()
    }

    fn execute_batch(&mut self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).map_err(map_error)
    }
}

fn read_row(row: &postgres::Row) -> Result<Row> {
    let mut values = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(index)
                .map(|v| v.map(Value::Int))
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(index)
                .map(|v| v.map(|v| Value::Int(i64::from(v))))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(index)
                .map(|v| v.map(|v| Value::Int(i64::from(v))))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(index)
                .map(|v| v.map(Value::Float))
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(index)
                .map(|v| v.map(|v| Value::Float(f64::from(v))))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(index)
                .map(|v| v.map(Value::Bool))
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            row.try_get::<_, Option<String>>(index)
                .map(|v| v.map(Value::Text))
        } else {
            return Err(StoreError::Database(format!(
                "column {} has type {ty}, which Relay does not read; cast it in the query",
                column.name()
            )));
        };
        values.push(value.map_err(map_error)?.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(value) => value.to_sql(ty, out),
            Param::Float(value) => value.to_sql(ty, out),
            Param::Text(text) => text.to_sql(ty, out),
            Param::Bool(value) => value.to_sql(ty, out),
            Param::TextArray(values) => values.to_sql(ty, out),
            Param::IntArray(values) => values.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty)
            || <f64 as ToSql>::accepts(ty)
            || <&str as ToSql>::accepts(ty)
            || <bool as ToSql>::accepts(ty)
            || <Vec<Option<&str>> as ToSql>::accepts(ty)
            || <Vec<Option<i64>> as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// The error's own text and, for a connection failure, its cause (refused, timed out…).
fn describe(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        };
    }
    match err.source() {
        Some(cause) => format!("{err}: {cause}"),
        None => err.to_string(),
    }
}

fn map_error(err: postgres::Error) -> StoreError {
    match err.code() {
        // Class 23, integrity constraint violations: as SQLite reports all of them.
        Some(code) if code.code().starts_with("23") => {
            tracing::warn!("constraint violation: {}", describe(&err));
            StoreError::Conflict(crate::sql::CONFLICT.to_owned())
        }
        Some(_) => StoreError::Database(describe(&err)),
        // No SQLSTATE: the connection itself failed (closed, reset, timed out).
        None => StoreError::Unavailable(describe(&err)),
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_become_dollar_numbers() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c > ?12"),
            "SELECT a FROM t WHERE b = $1 AND c > $12"
        );
    }
}
