//! One file per route group.

pub(crate) mod health;
