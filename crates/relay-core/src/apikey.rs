//! API keys. A key is shown once when it is made; Relay keeps only its SHA-256.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{ApiKeyId, TenantId, Timestamp, UserId};

/// The secret itself (`rly_…`). It exists in memory only while it is handed to its owner.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub const PREFIX: &'static str = "rly_";
    /// 40 characters of base62: about 238 bits of randomness.
    const RANDOM_CHARS: usize = 40;
    /// The length of every key Relay makes.
    pub const LEN: usize = Self::PREFIX.len() + Self::RANDOM_CHARS;

    pub fn generate() -> Self {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut key = String::with_capacity(Self::PREFIX.len() + Self::RANDOM_CHARS);
        key.push_str(Self::PREFIX);
        let mut buf = [0u8; 64];
        while key.len() < Self::PREFIX.len() + Self::RANDOM_CHARS {
            // The operating system's generator failing leaves nothing safe to do but stop.
            getrandom::fill(&mut buf).expect("the operating system's random generator failed");
            // Rejection sampling: 248 = 4 × 62, so every accepted byte maps to a uniform digit.
            for byte in buf.iter().copied().filter(|b| *b < 248) {
                if key.len() == Self::PREFIX.len() + Self::RANDOM_CHARS {
                    break;
                }
                key.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
        Self(key)
    }

    /// The key, to show to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash::of_presented(&self.0)
    }

    /// The first characters of the key, kept so that people can tell their keys apart.
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(Self::PREFIX.len() + 6).collect()
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.display_prefix())
    }
}

/// The SHA-256 of a key, in lower-case hex: what the database stores and looks keys up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    /// Hashes whatever a client presented. Unknown or malformed keys simply find no row.
    pub fn of_presented(key: &str) -> Self {
        Self(hex::encode(Sha256::digest(key.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// A label chosen by whoever made the key ("laptop", "sso", "ci").
    pub name: String,
    /// The first characters of the key, e.g. `rly_3fZ9aQ`.
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_distinct_and_hash_as_presented() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("rly_"));
        assert_eq!(a.expose().len(), 44);
        assert!(a.expose()[4..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(a.hash(), ApiKeyHash::of_presented(a.expose()));
        assert_eq!(a.hash().as_str().len(), 64);
        assert!(
            !format!("{a:?}").contains(&a.expose()[10..]),
            "Debug must not print the key"
        );
    }
}
