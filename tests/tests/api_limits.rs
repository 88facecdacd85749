//! The API's limits: bodies of at most 1 MiB, bounded JSON
//! depth, a rate limit per token holder on changes, and no CORS.

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, TestApp};
use vangnet_proto::TimestampMs;
use vangnet_proto::token::{Claims, Role, sign_hs256};
use vangnet_server::store::OrderStore;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

fn token(sub: &str) -> String {
    let claims = Claims {
        sub: sub.into(),
        role: Role::Admin,
        regions: vec!["*".into()],
        exp: TimestampMs::now().millis() / 1000 + 3600,
        iss: None,
        aud: None,
    };
    sign_hs256(SECRET.as_bytes(), &claims).unwrap()
}

fn order(id: &str) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": false,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

async fn app(options: AppOptions) -> TestApp {
    let app = TestApp::spawn_with(options.env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    app
}

async fn post_raw(app: &TestApp, token: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn post(app: &TestApp, token: &str, body: &Value) -> u16 {
    post_raw(app, token, body.to_string())
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_body_over_1_mib_gets_413_and_nothing_is_stored() {
    let app = app(AppOptions::default()).await;
    let mut body = order("big");
    body["padding"] = Value::String("x".repeat(1024 * 1024));
    let response = post_raw(&app, &token("admin-a"), body.to_string()).await;
    assert_eq!(response.status().as_u16(), 413);
    assert!(app.store().orders().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_body_nested_100_000_levels_deep_gets_400_and_the_service_goes_on() {
    let app = app(AppOptions::default()).await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut without_zones = order("deep");
    without_zones.as_object_mut().unwrap().remove("zones");
    let mut body = without_zones.to_string();
    body.insert_str(body.len() - 1, &format!(r#","zones":[{{"id":"z","prealarm_m":500,"geometry":{{"type":"Polygon","coordinates":{deep}}}}}]"#));
    let response = post_raw(&app, &token("admin-a"), body).await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(post(&app, &token("admin-a"), &order("after")).await, 201);
}

#[tokio::test]
async fn a_holder_making_changes_too_fast_gets_429_while_reads_and_other_holders_go_on() {
    let app = app(AppOptions::default().env("VANGNET_API_CHANGES_PER_MINUTE", "60")).await;
    let hasty = token("admin-hasty");
    for n in 0..6 {
        assert_eq!(post(&app, &hasty, &order(&format!("burst-{n}"))).await, 201);
    }
    let mut refused = None;
    for n in 0..20 {
        let response = post_raw(&app, &hasty, order(&format!("more-{n}")).to_string()).await;
        if response.status().as_u16() == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("a 429 once the burst of 6 is spent");
    assert_eq!(refused.headers()["retry-after"], "1");

    let read = reqwest::Client::new()
        .get(app.url("/api/v1/orders/burst-0"))
        .bearer_auth(&hasty)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    assert_eq!(post(&app, &token("admin-calm"), &order("calm")).await, 201);
}

#[tokio::test]
async fn cross_origin_requests_get_no_cors_headers() {
    let app = app(AppOptions::default()).await;
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/orders"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        !preflight
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let read = reqwest::Client::new()
        .get(app.url("/api/v1/alerts"))
        .bearer_auth(token("admin-a"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    assert!(!read.headers().contains_key("access-control-allow-origin"));
}
