//! Reading request bodies: JSON only, and never more than the route allows.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, StatusCode, header};
use serde::de::DeserializeOwned;

use super::ApiError;

/// True for `application/json` and `application/…+json`, with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn content_type<B>(request: &Request<B>) -> &str {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

fn is_form(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// The whole body, if it is declared JSON and within `limit` bytes.
pub(crate) async fn read_json_bytes(
    request: Request<Incoming>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if !is_json(content_type(&request)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    read_bytes(request, limit).await
}

/// A body of string parameters, as an HTML form (`application/x-www-form-urlencoded`) or a JSON
/// object of strings, the way OAuth token endpoints take them.
pub(crate) async fn read_form_or_json(
    request: Request<Incoming>,
    limit: usize,
) -> Result<HashMap<String, String>, ApiError> {
    let kind = content_type(&request);
    if is_form(kind) {
        let bytes = read_bytes(request, limit).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            ApiError::bad_request("invalid_request", "the form body is not UTF-8 text")
        })?;
        return Ok(relay_api::query::parse(text));
    }
    if !is_json(kind) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the parameters as application/x-www-form-urlencoded or application/json",
        ));
    }
    let bytes = read_bytes(request, limit).await?;
    let object: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|err| {
            ApiError::bad_request(
                "malformed_json",
                format!(
                    "the body is not a JSON object: {}",
                    relay_api::describe_json_error(&err)
                ),
            )
        })?;
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => Ok((key, text)),
            _ => Err(ApiError::bad_request(
                "invalid_request",
                format!("{key} must be a string"),
            )),
        })
        .collect()
}

/// The whole body, within `limit` bytes: a declared length over it is refused unread.
async fn read_bytes(request: Request<Incoming>, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {limit} bytes; send less per request"),
        )
    };
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err)
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "incomplete_body",
            "the request body ended early",
        )),
    }
}

/// A JSON body parsed into `T`.
pub(crate) async fn read_json<T: DeserializeOwned>(
    request: Request<Incoming>,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = read_json_bytes(request, limit).await?;
    serde_json::from_slice(&bytes).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not the JSON this route takes: {}",
                relay_api::describe_json_error(&err)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/vnd.relay+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
