//! relay-admin as an operator runs it: the real binary, on SQLite and on PostgreSQL.

// A panic in a test is a failed test: unwrapping is the point here.
#![allow(clippy::unwrap_used)]

mod backup;
mod story;
