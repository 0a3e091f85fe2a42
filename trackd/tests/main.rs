//! trackd over real HTTP: a real server on 127.0.0.1:0, on SQLite and on PostgreSQL.

// A panic in a test is a failed test: unwrapping is the point here.
#![allow(clippy::unwrap_used)]

mod analytics;
mod browser;
mod deployment;
mod durability;
mod hardening;
mod health;
mod privacy;
mod scale;
mod skills;
mod sso;
mod support;
mod tenancy;
mod track;
