//! relay-mcp as a developer runs it.

// A panic in a test is a failed test: unwrapping is the point here.
#![allow(clippy::unwrap_used)]

mod claude;
mod hook;
mod login;
mod mcp;
mod support;
