//! One file per command.

pub(crate) mod flush;
pub(crate) mod hook;
pub(crate) mod login;
