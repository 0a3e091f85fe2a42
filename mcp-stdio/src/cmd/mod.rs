//! One file per command.

pub(crate) mod flush;
pub(crate) mod hook;
pub(crate) mod login;
pub(crate) mod status;
