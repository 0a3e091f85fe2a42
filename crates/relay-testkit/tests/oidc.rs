#![allow(clippy::unwrap_used)]
//! The test OIDC provider over real HTTP, checked with a plain HTTP client and an independent
//! ID-token verifier (jsonwebtoken, keys from the JWKS by kid, RS256/ES256 only).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use relay_testkit::oidc::{
    CLIENT_ID, CLIENT_SECRET, Identity, OidcProvider, Signing, Tamper, TokenSpec,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-relay";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Status and body of a GET.
fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

fn get_json(url: &str) -> Value {
    let (status, body) = get(url);
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn jwks(idp: &OidcProvider) -> JwkSet {
    serde_json::from_value(get_json(&format!("{}/jwks", idp.issuer()))).unwrap()
}

/// What a correct relying party does: RS256/ES256 only, the key the JWKS lists under the token's
/// kid, iss/aud/exp checked.
fn verify(jwks: &JwkSet, token: &str, issuer: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|err| format!("header: {err}"))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(format!("algorithm {:?} is not allowed", header.alg));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|err| format!("key: {err}"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|err| format!("refused: {err}"))
}

fn decode_component(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                out.push(u8::from_str_radix(&input[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The query parameters of a redirect's Location.
fn location_params(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').unwrap().1;
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (decode_component(name), decode_component(value))
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// GET /authorize with these parameters: status, Location (if any), body.
fn authorize_raw(idp: &OidcProvider, params: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let mut response = agent()
        .get(format!("{}/authorize", idp.issuer()))
        .query_pairs(params.iter().copied())
        .call()
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned());
    (
        status,
        location,
        response.body_mut().read_to_string().unwrap(),
    )
}

/// A successful authorization request with nonce, state and PKCE: the code.
fn authorize(idp: &OidcProvider, nonce: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid email profile"),
        ("state", "st/ate 1&2"),
        ("nonce", nonce),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    params.extend_from_slice(extra);
    let (status, location, body) = authorize_raw(idp, &params);
    assert_eq!(status, 302, "{body}");
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?")),
        "{location}"
    );
    let params = location_params(&location);
    assert_eq!(param(&params, "state"), Some("st/ate 1&2"));
    param(&params, "code").unwrap().to_owned()
}

/// POST /token with this form (and optional HTTP Basic credentials): status and JSON body.
fn token_request(
    idp: &OidcProvider,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut request = agent().post(format!("{}/token", idp.issuer()));
    if let Some((id, secret)) = basic {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        request = request.header("Authorization", format!("Basic {credentials}"));
    }
    let mut response = request.send_form(form.iter().copied()).unwrap();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// Redeems `code` with client_secret_post and the right verifier.
fn redeem(idp: &OidcProvider, code: &str, verifier: &str) -> (u16, Value) {
    token_request(
        idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
        None,
    )
}

fn id_token_of(answer: &Value) -> &str {
    answer["id_token"].as_str().unwrap()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

#[test]
fn discovery_lists_the_endpoints() {
    let idp = OidcProvider::start();
    let issuer = idp.issuer();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    assert!(!issuer.ends_with('/'));
    assert_eq!(issuer, format!("http://{}", idp.local_addr()));
    let doc = get_json(&format!("{issuer}/.well-known/openid-configuration"));
    assert_eq!(doc["issuer"], json!(issuer));
    assert_eq!(
        doc["authorization_endpoint"],
        json!(format!("{issuer}/authorize"))
    );
    assert_eq!(doc["token_endpoint"], json!(format!("{issuer}/token")));
    assert_eq!(doc["jwks_uri"], json!(format!("{issuer}/jwks")));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post", "client_secret_basic"])
    );
}

#[test]
fn jwks_lists_an_rsa_and_an_ec_key_and_counts_fetches() {
    let idp = OidcProvider::start();
    assert_eq!(idp.jwks_fetches(), 0);
    let doc = get_json(&format!("{}/jwks", idp.issuer()));
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(doc, idp.jwks());
    assert_eq!(idp.jwks_fetches(), 1, "reading jwks() is not a fetch");
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let rsa = &keys[0];
    assert_eq!(rsa["kty"], "RSA");
    assert_eq!(rsa["use"], "sig");
    assert_eq!(rsa["alg"], "RS256");
    assert_eq!(rsa["kid"], json!(idp.current_kid()));
    assert_eq!(rsa["e"], "AQAB");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(rsa["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    let ec = &keys[1];
    assert_eq!(ec["kty"], "EC");
    assert_eq!(ec["crv"], "P-256");
    assert_eq!(ec["alg"], "ES256");
    assert_eq!(ec["use"], "sig");
    assert_eq!(ec["kid"], json!(idp.ec_kid()));
    for coordinate in ["x", "y"] {
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(ec[coordinate].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }
    // The document parses as a JWK set with usable keys.
    let set: JwkSet = serde_json::from_value(doc).unwrap();
    for jwk in &set.keys {
        DecodingKey::from_jwk(jwk).unwrap();
    }
}

#[test]
fn code_flow_issues_a_verifiable_id_token() {
    let idp = OidcProvider::start();
    idp.sign_in_as(
        Identity::new("bob@acme.com")
            .with_hd("acme.com")
            .with_name("Bob"),
    );
    let code = authorize(&idp, "n-0S6_WzA2Mj", &[]);
    let (status, answer) = redeem(&idp, &code, VERIFIER);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3600);
    assert_eq!(answer["scope"], "openid email profile");
    assert!(answer["access_token"].as_str().unwrap().len() >= 32);
    assert_eq!(idp.tokens_issued(), 1);

    let token = id_token_of(&answer);
    assert_eq!(header_of(token)["kid"], json!(idp.current_kid()));
    assert_eq!(header_of(token)["alg"], "RS256");
    let claims = verify(&jwks(&idp), token, &idp.issuer()).unwrap();
    let bob = Identity::new("bob@acme.com");
    assert_eq!(claims["iss"], json!(idp.issuer()));
    assert_eq!(claims["sub"], json!(bob.sub));
    assert!(
        bob.sub.starts_with("sub-") && bob.sub.len() == 20,
        "{}",
        bob.sub
    );
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["email"], "bob@acme.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["hd"], "acme.com");
    assert_eq!(claims["name"], "Bob");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 600);
    assert!(claims.get("nbf").is_none());
}

#[test]
fn login_hint_picks_the_identity_and_the_default_is_alice() {
    let idp = OidcProvider::start();
    let code = authorize(&idp, "n1", &[]);
    let claims = verify(
        &jwks(&idp),
        id_token_of(&redeem(&idp, &code, VERIFIER).1),
        &idp.issuer(),
    )
    .unwrap();
    assert_eq!(claims["email"], "alice@acme.com");
    assert_eq!(claims["sub"], json!(Identity::new("alice@acme.com").sub));
    assert!(claims.get("hd").is_none() && claims.get("name").is_none());

    let code = authorize(&idp, "n2", &[("login_hint", "carol@example.org")]);
    let claims = verify(
        &jwks(&idp),
        id_token_of(&redeem(&idp, &code, VERIFIER).1),
        &idp.issuer(),
    )
    .unwrap();
    assert_eq!(claims["email"], "carol@example.org");
    assert_eq!(claims["sub"], json!(Identity::new("carol@example.org").sub));
}

#[test]
fn redirect_uri_with_a_query_gets_the_code_appended() {
    let idp = OidcProvider::start();
    let redirect = "http://127.0.0.1:9/cb?tenant=a";
    let (status, location, _) = authorize_raw(
        &idp,
        &[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("scope", "openid"),
        ],
    );
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("{redirect}&code=")),
        "{location}"
    );
    assert!(
        !location.contains("state="),
        "no state asked, none given back"
    );
    let params = location_params(&location);
    let code = param(&params, "code").unwrap();
    // No PKCE in the request: the token request must not bring a verifier either.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
    ];
    let (status, answer) = token_request(&idp, &form, Some((CLIENT_ID, CLIENT_SECRET)));
    assert_eq!(status, 200, "{answer}");
    assert!(id_token_of(&answer).split('.').count() == 3);
}

#[test]
fn codes_are_single_use() {
    let idp = OidcProvider::start();
    let code = authorize(&idp, "n", &[]);
    assert_eq!(redeem(&idp, &code, VERIFIER).0, 200);
    let (status, answer) = redeem(&idp, &code, VERIFIER);
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_grant");
    assert_eq!(idp.tokens_issued(), 1);
    let (status, answer) = redeem(&idp, "no-such-code", VERIFIER);
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn pkce_verifier_must_match() {
    let idp = OidcProvider::start();
    let code = authorize(&idp, "n", &[]);
    let wrong = "a-different-verifier-that-is-long-enough-to-be-valid";
    let (status, answer) = redeem(&idp, &code, wrong);
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "invalid_grant");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier")
    );
    // The failed attempt used the code up.
    assert_eq!(redeem(&idp, &code, VERIFIER).1["error"], "invalid_grant");

    let code = authorize(&idp, "n", &[]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let (status, answer) = token_request(&idp, &form, Some((CLIENT_ID, CLIENT_SECRET)));
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant")),
        "no verifier"
    );
    assert_eq!(idp.tokens_issued(), 0);
}

#[test]
fn token_endpoint_checks_client_and_redirect_uri() {
    let idp = OidcProvider::start();
    let code = authorize(&idp, "n", &[]);
    let form = |secret: &'static str, redirect: &'static str, code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
            ("client_id", CLIENT_ID.to_owned()),
            ("client_secret", secret.to_owned()),
        ]
    };
    let send = |form: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        token_request(&idp, &pairs, None)
    };
    // Wrong secret: 401, and the code is not used up.
    let (status, answer) = send(form("wrong", REDIRECT_URI, &code));
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Wrong Basic credentials.
    let basic_form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    let (status, answer) = token_request(&idp, &basic_form, Some((CLIENT_ID, "nope")));
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // No client authentication at all.
    let (status, answer) = token_request(&idp, &basic_form, None);
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Wrong redirect_uri: invalid_grant.
    let (status, answer) = send(form(CLIENT_SECRET, "http://127.0.0.1:9/other", &code));
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // HTTP Basic works.
    let code = authorize(&idp, "n", &[]);
    let basic_form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", VERIFIER),
    ];
    let (status, answer) = token_request(&idp, &basic_form, Some((CLIENT_ID, CLIENT_SECRET)));
    assert_eq!(status, 200, "{answer}");

    // Other grant types.
    let (status, answer) = token_request(
        &idp,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        Some((CLIENT_ID, CLIENT_SECRET)),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    assert_eq!(idp.tokens_issued(), 1);
}

#[test]
fn bad_requests_are_400_not_panics() {
    let idp = OidcProvider::start();
    let issuer = idp.issuer();
    let good = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
    ];
    let without = |name: &str| -> Vec<(&str, &str)> {
        good.iter().copied().filter(|(n, _)| *n != name).collect()
    };
    let with = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
        let mut params = without(name);
        params.push((name, value));
        params
    };
    for params in [
        without("response_type"),
        with("response_type", "token"),
        without("client_id"),
        with("client_id", "someone-else"),
        without("redirect_uri"),
        with("redirect_uri", "not a uri"),
        with("redirect_uri", "http://127.0.0.1:9/cb#frag"),
        without("scope"),
        with("scope", "email profile"),
        with("code_challenge_method", "plain"),
    ] {
        let (status, location, body) = authorize_raw(&idp, &params);
        assert_eq!(status, 400, "{params:?}: {body}");
        assert!(location.is_none());
        assert!(!body.is_empty());
    }
    for raw in [
        "/authorize?response_type=code&client_id=%zz",
        "/authorize?response_type=%ff%fe&client_id=relay-test-client",
        "/authorize?client_id=a&client_id=b",
        "/authorize",
    ] {
        let (status, body) = get(&format!("{issuer}{raw}"));
        assert_eq!(status, 400, "{raw}: {body}");
    }
    let (status, _) = get(&format!("{issuer}/nope"));
    assert_eq!(status, 404);
    let (status, _) = get(&format!("{issuer}/token"));
    assert_eq!(status, 405);

    // Token endpoint: not a form, not UTF-8, malformed.
    let post = |content_type: &str, body: &[u8]| {
        let response = agent()
            .post(format!("{issuer}/token"))
            .header("Content-Type", content_type)
            .send(body)
            .unwrap();
        response.status().as_u16()
    };
    assert_eq!(post("application/json", b"{}"), 400);
    assert_eq!(
        post("application/x-www-form-urlencoded", b"\xff\xfe=\x80"),
        400
    );
    assert_eq!(post("application/x-www-form-urlencoded", b"code=%zz"), 400);
    assert_eq!(post("application/x-www-form-urlencoded", b"code=%C3"), 400);
    assert_eq!(post("application/x-www-form-urlencoded", b""), 401);

    // Still serving.
    get_json(&format!("{issuer}/.well-known/openid-configuration"));
}

#[test]
fn rotate_key_changes_the_kid() {
    let idp = OidcProvider::start();
    let first = idp.current_kid();
    let old_token = idp.mint(&TokenSpec::default());
    let second = idp.rotate_key(true);
    assert_ne!(first, second);
    assert_eq!(idp.current_kid(), second);
    let set = jwks(&idp);
    assert!(set.find(&first).is_some() && set.find(&second).is_some());
    let new_token = idp.mint(&TokenSpec::default());
    assert_eq!(header_of(&new_token)["kid"], json!(second));
    verify(&set, &old_token, &idp.issuer()).unwrap();
    verify(&set, &new_token, &idp.issuer()).unwrap();

    // The code flow signs with the new key too.
    let code = authorize(&idp, "n", &[]);
    let token = redeem(&idp, &code, VERIFIER).1["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header_of(&token)["kid"], json!(second));

    let third = idp.rotate_key(false);
    let set = jwks(&idp);
    assert!(set.find(&first).is_none() && set.find(&second).is_none());
    assert!(set.find(&third).is_some() && set.find(&idp.ec_kid()).is_some());
    assert_eq!(set.keys.len(), 2);
    assert!(
        verify(&set, &old_token, &idp.issuer()).is_err(),
        "old kid is gone"
    );
    verify(&set, &idp.mint(&TokenSpec::default()), &idp.issuer()).unwrap();
}

#[test]
fn only_honest_signing_verifies() {
    let idp = OidcProvider::start();
    let set = jwks(&idp);
    let alice = Identity::new("alice@acme.com");
    for signing in Signing::ALL {
        let token = idp.mint(&TokenSpec::for_identity(&alice, CLIENT_ID).with_signing(signing));
        assert_eq!(token.split('.').count(), 3, "{signing:?}");
        let result = verify(&set, &token, &idp.issuer());
        assert_eq!(
            result.is_ok(),
            signing.is_honest(),
            "{signing:?}: {result:?}"
        );
        let header = header_of(&token);
        match signing {
            Signing::Rs256 => {
                assert_eq!(header["alg"], "RS256");
                assert_eq!(header["kid"], json!(idp.current_kid()));
                assert_eq!(result.unwrap()["email"], "alice@acme.com");
            }
            Signing::Es256 => {
                assert_eq!(header["alg"], "ES256");
                assert_eq!(header["kid"], json!(idp.ec_kid()));
                assert_eq!(result.unwrap()["sub"], json!(alice.sub));
            }
            Signing::None => {
                assert_eq!(header, json!({"alg": "none", "typ": "JWT"}));
                assert!(token.ends_with('.'));
            }
            Signing::Hs256WithPublicKey => {
                assert_eq!(header["alg"], "HS256");
                assert_eq!(header["kid"], json!(idp.current_kid()));
                // A genuine forgery: a verifier that lets the token pick HS256 and uses the
                // public key PEM as the secret would accept it.
                let pem = idp.rsa_public_key_pem();
                assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
                let naive_key = DecodingKey::from_secret(pem.as_bytes()).unwrap();
                let mut validation = Validation::new(Algorithm::HS256);
                validation.set_audience(&[CLIENT_ID]);
                jsonwebtoken::decode::<Value>(&token, &naive_key, &validation).unwrap();
            }
            Signing::UnknownKey => {
                assert_eq!(header["alg"], "RS256");
                let kid = header["kid"].as_str().unwrap();
                assert!(set.find(kid).is_none());
                assert!(result.unwrap_err().contains("not in the JWKS"));
            }
            Signing::BadSignature => {
                assert_eq!(header["alg"], "RS256");
                assert_eq!(header["kid"], json!(idp.current_kid()));
                assert!(result.unwrap_err().contains("InvalidSignature"));
                // Everything but the signature is what an honest token would carry.
                let honest = idp.mint(&TokenSpec::for_identity(&alice, CLIENT_ID));
                assert_eq!(token.split('.').next(), honest.split('.').next());
            }
        }
    }
}

#[test]
fn token_spec_controls_the_claims() {
    let idp = OidcProvider::start();
    let set = jwks(&idp);
    let dave = Identity::new("dave@acme.com").unverified();
    let spec = TokenSpec::for_identity(&dave, CLIENT_ID)
        .with_audiences(&[CLIENT_ID, "other-audience"])
        .with_azp(CLIENT_ID)
        .with_nonce("nonce-1")
        .with_nbf_offset(-5)
        .with_exp_offset(120)
        .with_claim("groups", json!(["a", "b"]))
        .without_claim("email_verified");
    let claims = verify(&set, &idp.mint(&spec), &idp.issuer()).unwrap();
    assert_eq!(claims["aud"], json!([CLIENT_ID, "other-audience"]));
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["nonce"], "nonce-1");
    assert_eq!(claims["email"], "dave@acme.com");
    assert_eq!(claims["groups"], json!(["a", "b"]));
    assert!(claims.get("email_verified").is_none());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat - 5);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 120);

    let refused = [
        TokenSpec::default().with_exp_offset(-300),
        TokenSpec::default().with_issuer("https://evil.example"),
        TokenSpec::for_identity(&dave, "someone-else"),
        TokenSpec::default().with_nbf_offset(600),
        TokenSpec::default().without_claim("exp"),
    ];
    for spec in refused {
        assert!(
            verify(&set, &idp.mint(&spec), &idp.issuer()).is_err(),
            "{spec:?}"
        );
    }
    assert_eq!(idp.tokens_issued(), 0, "minting is not redeeming");
}

#[test]
fn tamper_applies_to_the_next_token_only() {
    let idp = OidcProvider::start();
    let set = jwks(&idp);
    idp.tamper_next(Tamper {
        nonce: Some("not-the-nonce".to_owned()),
        email_verified: Some(false),
        ..Tamper::default()
    });
    let code = authorize(&idp, "the-nonce", &[]);
    let claims = verify(
        &set,
        id_token_of(&redeem(&idp, &code, VERIFIER).1),
        &idp.issuer(),
    )
    .unwrap();
    assert_eq!(claims["nonce"], "not-the-nonce");
    assert_eq!(claims["email_verified"], false);

    let code = authorize(&idp, "the-nonce", &[]);
    let claims = verify(
        &set,
        id_token_of(&redeem(&idp, &code, VERIFIER).1),
        &idp.issuer(),
    )
    .unwrap();
    assert_eq!(claims["nonce"], "the-nonce", "tamper applies once");
    assert_eq!(claims["email_verified"], true);

    for (tamper, what) in [
        (
            Tamper {
                exp_offset: Some(-300),
                ..Tamper::default()
            },
            "expired",
        ),
        (
            Tamper {
                aud: Some("other".into()),
                ..Tamper::default()
            },
            "wrong aud",
        ),
        (
            Tamper {
                iss: Some("https://evil.example".into()),
                ..Tamper::default()
            },
            "wrong iss",
        ),
        (
            Tamper {
                signing: Some(Signing::BadSignature),
                ..Tamper::default()
            },
            "bad signature",
        ),
        (
            Tamper {
                signing: Some(Signing::None),
                ..Tamper::default()
            },
            "alg none",
        ),
    ] {
        idp.tamper_next(tamper);
        let code = authorize(&idp, "n", &[]);
        let (status, answer) = redeem(&idp, &code, VERIFIER);
        assert_eq!(status, 200);
        assert!(
            verify(&set, id_token_of(&answer), &idp.issuer()).is_err(),
            "{what}"
        );
    }

    idp.tamper_next(Tamper {
        drop_nonce: true,
        ..Tamper::default()
    });
    let code = authorize(&idp, "n", &[]);
    let claims = verify(
        &set,
        id_token_of(&redeem(&idp, &code, VERIFIER).1),
        &idp.issuer(),
    )
    .unwrap();
    assert!(claims.get("nonce").is_none());
}

#[test]
fn dropping_the_provider_stops_the_server() {
    let idp = OidcProvider::start();
    let addr = idp.local_addr();
    get_json(&format!("{}/jwks", idp.issuer()));
    drop(idp);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn binary_prints_the_issuer_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_relay-test-oidc"))
        .args(["--listen", "127.0.0.1:0", "--email", "erin@acme.com"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let result = std::panic::catch_unwind(|| {
        assert_eq!(words.len(), 6, "{line}");
        assert_eq!(
            (words[0], words[2], words[3], words[4], words[5]),
            (
                "issuer",
                "client_id",
                CLIENT_ID,
                "client_secret",
                CLIENT_SECRET
            )
        );
        let issuer = words[1];
        assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
        let doc = get_json(&format!("{issuer}/.well-known/openid-configuration"));
        assert_eq!(doc["issuer"], json!(issuer));
        let (status, location, _) = {
            let mut response = agent()
                .get(format!("{issuer}/authorize"))
                .query_pairs([
                    ("response_type", "code"),
                    ("client_id", CLIENT_ID),
                    ("redirect_uri", REDIRECT_URI),
                    ("scope", "openid"),
                ])
                .call()
                .unwrap();
            let location = response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                response.status().as_u16(),
                location,
                response.body_mut().read_to_string().unwrap(),
            )
        };
        assert_eq!(status, 302);
        let params = location_params(&location.unwrap());
        let code = param(&params, "code").unwrap().to_owned();
        let mut response = agent()
            .post(format!("{issuer}/token"))
            .send_form([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let answer: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        let set: JwkSet = serde_json::from_value(get_json(&format!("{issuer}/jwks"))).unwrap();
        let claims = verify(&set, id_token_of(&answer), issuer).unwrap();
        assert_eq!(claims["email"], "erin@acme.com");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn binary_refuses_bad_arguments() {
    let output = Command::new(env!("CARGO_BIN_EXE_relay-test-oidc"))
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen"));
}
