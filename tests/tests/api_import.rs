//! `POST /api/v1/orders/import` (docs/api.md#orders): many orders in one
//! call, admin only, checked as a whole before any is stored, then each
//! stored under the rules of one created alone.

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, TestApp, claims};
use vangnet_proto::token::{Role, sign_hs256};

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

fn token(role: Role) -> String {
    sign_hs256(SECRET.as_bytes(), &claims(role, 3600)).unwrap()
}

fn order(id: &str, exercise: bool, victim: &str, perpetrator: &str) -> Value {
    json!({
        "id": id, "region": "rotterdam", "exercise": exercise,
        "victim_devices": [victim], "perpetrator_devices": [perpetrator],
        "proximity": {"alarm_m": 1000, "prealarm_m": 2000}, "zones": []
    })
}

fn orders(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            order(
                &format!("imp-{i}"),
                false,
                &format!("v-{i}"),
                &format!("p-{i}"),
            )
        })
        .collect()
}

async fn app(options: AppOptions) -> TestApp {
    let app = TestApp::spawn_with(options.env("VANGNET_JWT_SECRET", SECRET)).await;
    app.wait_until_ready().await;
    app
}

async fn import(app: &TestApp, role: Role, orders: &[Value]) -> (u16, Value) {
    app.call(
        reqwest::Method::POST,
        "/api/v1/orders/import",
        Some(&token(role)),
        Some(&Value::Array(orders.to_vec())),
    )
    .await
}

async fn status_of_order(app: &TestApp, id: &str) -> u16 {
    let path = format!("/api/v1/orders/{id}");
    let (status, _) = app
        .call(reqwest::Method::GET, &path, Some(&token(Role::Admin)), None)
        .await;
    status
}

#[tokio::test]
async fn an_admin_imports_a_thousand_orders_in_one_call() {
    let app = app(AppOptions::default()).await;
    let (status, report) = import(&app, Role::Admin, &orders(1000)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"].as_array().unwrap().len(), 1000);
    assert_eq!(report["exists"], json!([]));
    assert_eq!(report["refused"], json!([]));
    assert_eq!(status_of_order(&app, "imp-0").await, 200);
    assert_eq!(status_of_order(&app, "imp-999").await, 200);
}

#[tokio::test]
async fn an_import_with_one_invalid_order_gets_422_naming_it_and_stores_none() {
    let app = app(AppOptions::default()).await;
    let mut batch = orders(3);
    batch[2]["proximity"]["alarm_m"] = json!(-5);
    let (status, body) = import(&app, Role::Admin, &batch).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("[2]."),
        "{body}"
    );
    assert_eq!(status_of_order(&app, "imp-0").await, 404);
}

#[tokio::test]
async fn an_imported_order_without_an_id_gets_422() {
    let app = app(AppOptions::default()).await;
    let mut batch = orders(2);
    batch[1].as_object_mut().unwrap().remove("id");
    let (status, body) = import(&app, Role::Admin, &batch).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().starts_with("[1].id"),
        "{body}"
    );
}

#[tokio::test]
async fn an_id_given_twice_gets_422_and_stores_none() {
    let app = app(AppOptions::default()).await;
    let batch = [
        order("twice", false, "a", "b"),
        order("twice", false, "c", "d"),
    ];
    let (status, body) = import(&app, Role::Admin, &batch).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(status_of_order(&app, "twice").await, 404);
}

#[tokio::test]
async fn an_import_leaves_existing_orders_as_they_were_and_names_them() {
    let app = app(AppOptions::default()).await;
    import(&app, Role::Admin, &orders(1)).await;
    let (status, report) = import(&app, Role::Admin, &orders(2)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["exists"], json!(["imp-0"]));
    assert_eq!(report["created"], json!(["imp-1"]));
}

#[tokio::test]
async fn an_import_refuses_an_order_that_mixes_real_and_exercise_even_within_the_import() {
    let app = app(AppOptions::default()).await;
    let batch = [
        order("real", false, "shared-v", "p-1"),
        order("drill", true, "shared-v", "p-2"),
        order("other", false, "v-3", "p-3"),
    ];
    let (status, report) = import(&app, Role::Admin, &batch).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], json!(["real", "other"]));
    assert_eq!(report["refused"][0]["id"], "drill");
    let error = report["refused"][0]["error"].as_str().unwrap();
    assert!(error.contains("victim_devices[0]"), "{error}");
    assert_eq!(status_of_order(&app, "drill").await, 404);
}

#[tokio::test]
async fn a_pilot_may_not_import() {
    let app = app(AppOptions::default()).await;
    let (status, body) = import(&app, Role::Pilot, &orders(1)).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn an_import_counts_as_one_change_against_the_rate_limit() {
    let app = app(AppOptions::default().env("VANGNET_API_CHANGES_PER_MINUTE", "1")).await;
    let (status, report) = import(&app, Role::Admin, &orders(50)).await;
    assert_eq!(status, 200, "{report}");
    let (status, _) = import(&app, Role::Admin, &orders(1)).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn every_imported_order_is_in_the_audit_trail() {
    let app = app(AppOptions::default()).await;
    import(&app, Role::Admin, &orders(3)).await;
    let (status, page) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/audit",
            Some(&token(Role::Auditor)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let imported: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["action"] == "order.import")
        .map(|entry| entry["subject"].as_str().unwrap())
        .collect();
    assert_eq!(imported, ["imp-0", "imp-1", "imp-2"]);
}

#[tokio::test]
async fn an_import_with_an_invalid_feature_gets_422_naming_the_order_and_feature() {
    let app = app(AppOptions::default()).await;
    let mut batch = orders(2);
    batch[1]["zones"] = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.4792, 51.9225]},
         "properties": {"id": "home", "radius_m": 250, "prealarm_m": 0}}]});
    let (status, body) = import(&app, Role::Admin, &batch).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        "[1].zones.features[0].properties.prealarm_m: must be a positive number of metres"
    );
    assert_eq!(status_of_order(&app, "imp-0").await, 404);
}

#[tokio::test]
async fn an_order_of_100_000_features_gets_422_without_its_zones_being_checked() {
    let app = app(AppOptions::default()).await;
    let feature = json!({"type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[4.46,51.91],[4.47,51.91],[4.46,51.91]]]},
        "properties": {"id": "z", "prealarm_m": 1}});
    let mut batch = orders(1);
    batch[0]["zones"] = json!({"type": "FeatureCollection", "features": vec![feature; 100_000]});
    let (status, body) = import(&app, Role::Admin, &batch).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "[0].zones.features: more than 64 zones");
}
