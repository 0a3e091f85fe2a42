//! relay-admin as an operator runs it: the real binary, on SQLite and on PostgreSQL.

mod story;
