//! The ingest path behind `POST /api/track`: a single writer that commits concurrent requests
//! together, and a per-key rate limit.

mod ratelimit;
mod writer;

pub(crate) use ratelimit::RateLimiter;
pub(crate) use writer::Writer;
