//! The outside contract of trackd's HTTP API (../shared/design/interface.md) as Rust types, shared
//! by trackd, relay-mcp and relay-admin so that the three never disagree on a field name.

pub mod analytics;
pub mod query;
pub mod skills;
pub mod track;

use serde::{Deserialize, Serialize};

/// What is wrong with a JSON body, without quoting any of it: serde's own messages can carry the
/// offending value, and a body may hold what must not be echoed or logged.
pub fn describe_json_error(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = err.to_string();
    let what = match err.classify() {
        Category::Syntax => "it is not valid JSON".to_owned(),
        Category::Eof => "it ends too early".to_owned(),
        Category::Io => "it could not be read".to_owned(),
        // Field names are ours, not the sender's data: those messages are safe to repeat.
        Category::Data
            if message.starts_with("missing field") || message.starts_with("duplicate field") =>
        {
            message
                .split(" at line")
                .next()
                .unwrap_or("a field is missing")
                .to_owned()
        }
        Category::Data => "a value has the wrong type".to_owned(),
    };
    format!("{what} (line {}, column {})", err.line(), err.column())
}

/// `{"error":{"code","message"}}`, the body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// `GET /api/me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub user: MeUser,
    pub tenant: MeTenant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeUser {
    pub id: String,
    pub email: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeTenant {
    pub slug: String,
    pub name: String,
}

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub database: String,
}
