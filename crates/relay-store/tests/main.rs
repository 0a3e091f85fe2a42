//! relay-store's integration tests: one binary, a module per area. Every story runs on SQLite and
//! on PostgreSQL (when `RELAY_TEST_DATABASE_URL` is set; CI sets it and fails without it).

// A panic in a test is a failed test: unwrapping is the point here.
#![allow(clippy::unwrap_used)]

mod analytics;
mod isolation;
mod schema;
mod sign_in;
mod story;
mod support;
