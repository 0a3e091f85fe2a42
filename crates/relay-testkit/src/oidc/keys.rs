//! Signing keys made at test time, their JWKs, and the JWTs they sign (good and deliberately bad).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::Generate;
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// RSA modulus size of the test keys: the smallest size real providers use, and quick to make.
const RSA_BITS: usize = 2048;

/// An RSA key pair for RS256.
pub(crate) struct RsaKey {
    pub(crate) kid: String,
    encoding: EncodingKey,
    n: Vec<u8>,
    e: Vec<u8>,
    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), LF line endings.
    pub(crate) public_pem: String,
}

impl RsaKey {
    /// A fresh 2048-bit key with a kid derived from its modulus.
    pub(crate) fn generate() -> RsaKey {
        let private = rsa::PrivateKey::new(&mut getrandom::SysRng, RSA_BITS)
            .expect("generate an RSA key for the test OIDC provider");
        let der = private
            .to_pkcs1_der()
            .expect("PKCS#1 DER of a fresh RSA key");
        let public = private.to_public_key();
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .expect("PEM of a fresh RSA public key");
        let n = public.n_bytes().to_vec();
        let e = public.e_bytes().to_vec();
        RsaKey {
            kid: format!("rsa-{}", short_hash(&n)),
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            n,
            e,
            public_pem,
        }
    }

    /// The public key as a JWK.
    pub(crate) fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// An RS256 JWT of `claims`, with this key's kid in the header.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign an RS256 test token")
    }

    /// An HS256 JWT of `claims` whose HMAC secret is this key's public PEM, with this key's kid:
    /// what an attacker forges against a verifier that lets the token pick the algorithm.
    pub(crate) fn sign_hs256_with_public_key(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        let secret =
            EncodingKey::from_secret(self.public_pem.as_bytes()).expect("a non-empty HMAC secret");
        jsonwebtoken::encode(&header, claims, &secret).expect("sign an HS256 test token")
    }
}

/// A P-256 key pair for ES256.
pub(crate) struct EcKey {
    pub(crate) kid: String,
    encoding: EncodingKey,
    x: Vec<u8>,
    y: Vec<u8>,
}

impl EcKey {
    /// A fresh P-256 key with a kid derived from its public point.
    pub(crate) fn generate() -> EcKey {
        let secret = p256::SecretKey::try_generate_from_rng(&mut getrandom::SysRng)
            .expect("generate a P-256 key for the test OIDC provider");
        let der = secret
            .to_pkcs8_der()
            .expect("PKCS#8 DER of a fresh P-256 key");
        // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = secret.public_key().to_sec1_bytes();
        let (x, y) = point
            .get(1..)
            .filter(|coordinates| point.first() == Some(&4) && coordinates.len() == 64)
            .map(|coordinates| coordinates.split_at(32))
            .expect("an uncompressed P-256 point");
        EcKey {
            kid: format!("ec-{}", short_hash(&point)),
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            x: x.to_vec(),
            y: y.to_vec(),
        }
    }

    /// The public key as a JWK.
    pub(crate) fn jwk(&self) -> Value {
        json!({
            "kty": "EC",
            "crv": "P-256",
            "use": "sig",
            "alg": "ES256",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.x),
            "y": URL_SAFE_NO_PAD.encode(&self.y),
        })
    }

    /// An ES256 JWT of `claims`, with this key's kid in the header.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign an ES256 test token")
    }
}

/// An unsecured JWT (`alg: none`): header and claims, then an empty signature.
pub(crate) fn unsigned(claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `token` with the last byte of its signature flipped (so the base64url text stays valid).
pub(crate) fn flip_signature(token: &str) -> String {
    let (signed, signature) = token
        .rsplit_once('.')
        .expect("a JWT has three dot-separated parts");
    let mut signature = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a JWT signature is base64url");
    if let Some(last) = signature.last_mut() {
        *last ^= 0x01;
    }
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A random base64url string of `bytes` random bytes (codes, access tokens).
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the system RNG");
    URL_SAFE_NO_PAD.encode(buf)
}

/// The first 16 hex digits of SHA-256(`bytes`).
pub(crate) fn short_hash(bytes: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(bytes));
    digest[..16].to_owned()
}

/// base64url (no padding) of SHA-256(`input`): the S256 PKCE transform.
pub(crate) fn s256(input: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input.as_bytes()))
}
