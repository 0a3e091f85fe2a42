//! One file per route group.

pub(crate) mod admin;
pub(crate) mod analytics;
pub(crate) mod auth;
pub(crate) mod dashboard;
pub(crate) mod deployments;
pub(crate) mod health;
pub(crate) mod internal;
pub(crate) mod me;
pub(crate) mod pages;
pub(crate) mod skills;
pub(crate) mod track;

use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::http::{Body, json_response};

/// A typed JSON answer.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    json_response(status, &value)
}
