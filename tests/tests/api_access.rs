//! Every 401 and 403 case of docs/api.md#tokens, on every `/api/` endpoint:
//! authentication and the role check come before any lookup, so even an
//! unknown alert id answers 401 or 403 and tells nothing about what exists.

use serde_json::{Value, json};
use vangnet_e2e::{
    AppOptions, TestApp, alg_none_token, claims, epoch_seconds, hs256_token, token_for,
    token_without_exp,
};
use vangnet_proto::token::{Role, sign_hs256};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;
const ROLES: [Role; 4] = [Role::Admin, Role::Dispatcher, Role::Pilot, Role::Auditor];

/// One endpoint: how to call it and who may.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    roles: &'static [Role],
}

fn order(id: &str, exercise: bool) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": exercise,
        "victim_devices": [format!("{id}-v")], "perpetrator_devices": [format!("{id}-p")],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

fn endpoints() -> Vec<Endpoint> {
    let note = || Some(json!({"note": "checked"}));
    let endpoint = |method, path, body, roles| Endpoint {
        method,
        path,
        body,
        roles,
    };
    vec![
        endpoint(
            "POST",
            "/api/v1/orders",
            Some(order("new-exercise", true)),
            &[Role::Admin, Role::Pilot],
        ),
        endpoint(
            "GET",
            "/api/v1/orders/drill",
            None,
            &[Role::Admin, Role::Pilot],
        ),
        endpoint(
            "PUT",
            "/api/v1/orders/drill",
            Some(order("drill", true)),
            &[Role::Admin, Role::Pilot],
        ),
        endpoint(
            "DELETE",
            "/api/v1/orders/drill",
            None,
            &[Role::Admin, Role::Pilot],
        ),
        endpoint(
            "GET",
            "/api/v1/orders/drill/state",
            None,
            &[Role::Admin, Role::Dispatcher],
        ),
        endpoint(
            "GET",
            "/api/v1/alerts",
            None,
            &[Role::Admin, Role::Dispatcher],
        ),
        endpoint(
            "GET",
            "/api/v1/alerts/unknown-alert",
            None,
            &[Role::Admin, Role::Dispatcher],
        ),
        endpoint(
            "POST",
            "/api/v1/alerts/unknown-alert/ack",
            note(),
            &[Role::Dispatcher],
        ),
        endpoint(
            "POST",
            "/api/v1/alerts/unknown-alert/resolve",
            note(),
            &[Role::Dispatcher],
        ),
        endpoint(
            "GET",
            "/api/v1/alerts/stream",
            None,
            &[Role::Admin, Role::Dispatcher],
        ),
        endpoint("GET", "/api/v1/audit", None, &[Role::Auditor]),
    ]
}

async fn app() -> TestApp {
    let app = TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    app
}

/// The status of `endpoint` called with `authorization` as the header, if any.
async fn status(app: &TestApp, endpoint: &Endpoint, authorization: Option<&str>) -> u16 {
    let method = reqwest::Method::from_bytes(endpoint.method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, app.url(endpoint.path));
    if let Some(header) = authorization {
        request = request.header("Authorization", header);
    }
    if let Some(body) = &endpoint.body {
        request = request.json(body);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Asserts that every endpoint answers `authorization` with 401.
async fn every_endpoint_refuses(authorization: Option<&str>) {
    let app = app().await;
    for endpoint in endpoints() {
        assert_eq!(
            status(&app, &endpoint, authorization).await,
            401,
            "{} {}",
            endpoint.method,
            endpoint.path
        );
    }
}

#[tokio::test]
async fn every_endpoint_answers_401_without_a_token() {
    every_endpoint_refuses(None).await;
}

#[tokio::test]
async fn every_endpoint_answers_401_to_a_header_that_is_not_a_bearer_token() {
    every_endpoint_refuses(Some("Basic YWRtaW46YWRtaW4=")).await;
}

#[tokio::test]
async fn every_endpoint_answers_401_to_a_token_that_is_not_a_jwt() {
    every_endpoint_refuses(Some("Bearer not-a-token")).await;
}

#[tokio::test]
async fn every_endpoint_answers_401_to_an_expired_token() {
    let expired = sign_hs256(SECRET.as_bytes(), &claims(Role::Admin, -60)).unwrap();
    every_endpoint_refuses(Some(&format!("Bearer {expired}"))).await;
}

#[tokio::test]
async fn every_endpoint_answers_401_to_a_token_signed_with_another_key() {
    let forged = sign_hs256(
        b"another-secret-of-at-least-32-bytes",
        &claims(Role::Admin, 3600),
    )
    .unwrap();
    every_endpoint_refuses(Some(&format!("Bearer {forged}"))).await;
}

#[tokio::test]
async fn every_endpoint_answers_401_to_an_alg_none_token() {
    let unsigned = alg_none_token(&claims(Role::Admin, 3600));
    every_endpoint_refuses(Some(&format!("Bearer {unsigned}"))).await;
}

#[tokio::test]
async fn every_endpoint_answers_401_to_a_token_without_exp() {
    let no_exp = token_without_exp(SECRET);
    every_endpoint_refuses(Some(&format!("Bearer {no_exp}"))).await;
}

#[tokio::test]
async fn every_endpoint_answers_401_to_a_token_not_valid_before_an_hour_from_now() {
    let now = epoch_seconds();
    let early = hs256_token(
        SECRET,
        &json!({"sub": "early", "role": "admin", "regions": ["*"], "nbf": now + 3600, "exp": now + 7200}),
    );
    every_endpoint_refuses(Some(&format!("Bearer {early}"))).await;
}

#[tokio::test]
async fn every_endpoint_answers_403_to_each_role_it_does_not_serve() {
    let app = app().await;
    for endpoint in endpoints() {
        for role in ROLES.into_iter().filter(|r| !endpoint.roles.contains(r)) {
            let token = token_for(SECRET, role, &["*"]);
            assert_eq!(
                status(&app, &endpoint, Some(&format!("Bearer {token}"))).await,
                403,
                "{role:?} on {} {}",
                endpoint.method,
                endpoint.path
            );
        }
    }
}

#[tokio::test]
async fn a_pilot_gets_403_for_every_act_on_a_real_order() {
    let app = app().await;
    app.put_order(order("real", false)).await;
    let pilot = format!("Bearer {}", token_for(SECRET, Role::Pilot, &["*"]));
    let calls = [
        ("POST", "/api/v1/orders", Some(order("real-2", false))),
        ("GET", "/api/v1/orders/real", None),
        ("PUT", "/api/v1/orders/real", Some(order("real", false))),
        ("PUT", "/api/v1/orders/real", Some(order("real", true))),
        ("DELETE", "/api/v1/orders/real", None),
    ];
    for (method, path, body) in calls {
        let endpoint = Endpoint {
            method,
            path,
            body,
            roles: &[],
        };
        assert_eq!(
            status(&app, &endpoint, Some(&pilot)).await,
            403,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_and_the_health_endpoints_need_no_token() {
    let app = app().await;
    for path in ["/api/v1/openapi.json", "/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(path).await.status().as_u16(), 200, "{path}");
    }
}
