//! Attacks on API tokens (docs/api.md#tokens): each forged, stale or
//! malformed token gets 401 and is counted by why, in
//! `vangnet_api_auth_failures_total{reason}`.

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, TestApp, alg_none_token, claims, epoch_seconds, hs256_token};
use vangnet_proto::token::Role;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
const ISSUER: &str = "vangnet-idp";
const AUDIENCE: &str = "vangnet-api";

async fn app() -> TestApp {
    TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_JWT_ISSUER", ISSUER)
            .env("VANGNET_JWT_AUDIENCE", AUDIENCE),
    )
    .await
}

/// The claims of a token this app accepts, to spoil one at a time.
fn good_claims() -> Value {
    json!({
        "sub": "tester", "role": "admin", "regions": ["*"],
        "exp": epoch_seconds() + 3600, "iss": ISSUER, "aud": AUDIENCE
    })
}

/// Calls an endpoint with `token`; returns the status.
async fn status_with(app: &TestApp, token: &str) -> u16 {
    reqwest::Client::new()
        .get(app.url("/api/v1/alerts"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Asserts that `token` gets 401 and is counted once under `reason`.
async fn refused_and_counted(token: &str, reason: &str) {
    let app = app().await;
    let sample = format!("vangnet_api_auth_failures_total{{reason=\"{reason}\"}}");
    assert_eq!(
        status_with(&app, &hs256_token(SECRET, &good_claims())).await,
        200
    );
    assert_eq!(status_with(&app, token).await, 401);
    assert_eq!(app.metric(&sample).await, 1.0, "{sample}");
}

fn with(field: &str, value: Value) -> String {
    let mut claims = good_claims();
    claims[field] = value;
    hs256_token(SECRET, &claims)
}

#[tokio::test]
async fn an_alg_none_token_is_refused_and_counted() {
    let mut claims = claims(Role::Admin, 3600);
    claims.iss = Some(ISSUER.into());
    refused_and_counted(&alg_none_token(&claims), "malformed").await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused_and_counted() {
    let forged = vangnet_e2e::hs256_token("an attacker's own secret of 32+ bytes", &good_claims());
    refused_and_counted(&forged, "bad_signature").await;
}

#[tokio::test]
async fn an_expired_token_is_refused_and_counted() {
    refused_and_counted(&with("exp", json!(epoch_seconds() - 3600)), "expired").await;
}

#[tokio::test]
async fn a_token_not_valid_before_an_hour_from_now_is_refused_and_counted() {
    refused_and_counted(&with("nbf", json!(epoch_seconds() + 3600)), "not_yet_valid").await;
}

#[tokio::test]
async fn a_token_of_another_issuer_is_refused_and_counted() {
    refused_and_counted(&with("iss", json!("someone-else")), "wrong_issuer").await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_and_counted() {
    refused_and_counted(&with("aud", json!("another-api")), "wrong_audience").await;
}

#[tokio::test]
async fn a_token_without_the_configured_issuer_is_refused_and_counted() {
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove("iss");
    refused_and_counted(&hs256_token(SECRET, &claims), "missing_claim").await;
}

#[tokio::test]
async fn an_oversized_token_is_refused_and_counted() {
    let padded = with("padding", json!("x".repeat(8 * 1024)));
    refused_and_counted(&padded, "too_long").await;
}

#[tokio::test]
async fn a_token_naming_its_role_twice_is_refused_and_counted() {
    use base64::Engine;
    let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let header = encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = encode(&format!(
        r#"{{"sub":"tester","role":"auditor","role":"admin","regions":["*"],"exp":{},"iss":"{ISSUER}","aud":"{AUDIENCE}"}}"#,
        epoch_seconds() + 3600
    ));
    let message = format!("{header}.{payload}");
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
            .unwrap();
    refused_and_counted(&format!("{message}.{signature}"), "malformed").await;
}

#[tokio::test]
async fn a_call_without_a_token_is_refused_and_counted() {
    let app = app().await;
    let status = app.get("/api/v1/alerts").await.status().as_u16();
    assert_eq!(status, 401);
    assert_eq!(
        app.metric("vangnet_api_auth_failures_total{reason=\"missing\"}")
            .await,
        1.0
    );
}
