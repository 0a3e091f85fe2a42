//! The small SQL layer both backends implement, so that every query is written once.
//!
//! Queries use SQLite's `?N` placeholders, numbered in the order of the parameter slice; the
//! PostgreSQL backend rewrites them to `$N`. Only portable SQL goes through here: where the
//! dialects differ, code branches on [`Dialect`].

use crate::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to a text column that is sorted or compared for order, so that both engines
    /// order by bytes. SQLite always does; PostgreSQL follows the database's locale otherwise
    /// (en_US ignores `-`, so `a-c` and `ab` would swap between engines).
    pub(crate) fn bytewise(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }
}

/// What a caller is told when the database itself refuses a change (a uniqueness or foreign-key
/// rule, usually hit by two writers at once). The database's own text, which names tables and
/// ids, goes to the log only.
pub(crate) const CONFLICT: &str =
    "the change conflicts with data written at the same time; try again";

/// A query parameter, borrowed from the caller.
#[derive(Debug, Clone)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a str),
    Bool(bool),
    /// PostgreSQL only: a `text[]`, for `UNNEST` inserts of many rows in one statement.
    TextArray(Vec<Option<&'a str>>),
    /// PostgreSQL only: a `bigint[]`.
    IntArray(Vec<Option<i64>>),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}

impl From<f64> for Param<'_> {
    fn from(value: f64) -> Self {
        Param::Float(value)
    }
}

impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Param::Bool(value)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(value)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(value: &'a String) -> Self {
        Param::Text(value)
    }
}

impl<'a, T> From<Option<T>> for Param<'a>
where
    T: Into<Param<'a>>,
{
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

/// Builds a `&[Param]` from values of mixed types.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::sql::Param::from($value)),*][..]
    };
}
pub(crate) use params;

/// A value read back from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

/// One result row, owned, with typed getters that fail with a clear error instead of panicking.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    fn get(&self, index: usize) -> Result<&Value> {
        self.0
            .get(index)
            .ok_or_else(|| StoreError::Database(format!("query returned no column {index}")))
    }

    fn mismatch(&self, index: usize, expected: &str) -> StoreError {
        StoreError::Database(format!(
            "column {index} holds {:?}, expected {expected}",
            self.0.get(index)
        ))
    }

    pub(crate) fn text(&self, index: usize) -> Result<String> {
        match self.get(index)? {
            Value::Text(text) => Ok(text.clone()),
            _ => Err(self.mismatch(index, "text")),
        }
    }

    pub(crate) fn opt_text(&self, index: usize) -> Result<Option<String>> {
        match self.get(index)? {
            Value::Null => Ok(None),
            _ => self.text(index).map(Some),
        }
    }

    pub(crate) fn int(&self, index: usize) -> Result<i64> {
        match self.get(index)? {
            Value::Int(value) => Ok(*value),
            _ => Err(self.mismatch(index, "an integer")),
        }
    }

    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>> {
        match self.get(index)? {
            Value::Null => Ok(None),
            _ => self.int(index).map(Some),
        }
    }

    pub(crate) fn float(&self, index: usize) -> Result<f64> {
        match self.get(index)? {
            Value::Float(value) => Ok(*value),
            // SQLite keeps a whole REAL such as 2.0 as an integer when it can.
            Value::Int(value) => Ok(*value as f64),
            _ => Err(self.mismatch(index, "a number")),
        }
    }

    pub(crate) fn opt_float(&self, index: usize) -> Result<Option<f64>> {
        match self.get(index)? {
            Value::Null => Ok(None),
            _ => self.float(index).map(Some),
        }
    }

    pub(crate) fn boolean(&self, index: usize) -> Result<bool> {
        match self.get(index)? {
            Value::Bool(value) => Ok(*value),
            // SQLite has no boolean type: BOOLEAN columns hold 0 and 1.
            Value::Int(value) => Ok(*value != 0),
            _ => Err(self.mismatch(index, "a boolean")),
        }
    }
}

/// A connection, or a transaction on one. Each backend implements this once.
pub(crate) trait Conn {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64>;

    /// Runs a query and returns every row.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>>;

    /// Runs one statement once per row of parameters; returns each run's changed-row count.
    /// Backends that can prepare once and bind per row do so.
    fn execute_rows(
        &mut self,
        sql: &str,
        rows: &mut dyn Iterator<Item = &[Param<'_>]>,
    ) -> Result<Vec<u64>> {
        rows.map(|row| self.execute(sql, row)).collect()
    }

    /// Runs several statements without parameters (migrations).
    fn execute_batch(&mut self, sql: &str) -> Result<()>;

    /// Runs a query and returns its first row, if any.
    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs a query that must return one row.
    fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Database(format!("query returned no row: {sql}")))
    }
}

/// A database engine: how to get a connection and run work on it.
pub(crate) trait Backend: Send + Sync + 'static {
    const NAME: &'static str;

    /// Runs `work` on a connection, outside any explicit transaction.
    fn read<T>(&self, work: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T>;

    /// Runs `work` in one write transaction: committed if it returns `Ok`, rolled back otherwise.
    fn write<T>(&self, work: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T>;
}
