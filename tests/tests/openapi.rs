//! `GET /api/v1/openapi.json` serves the OpenAPI 3.1 document without a token.

use serde_json::Value;
use vangnet_e2e::TestApp;

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{document}"
    );
    assert_eq!(
        document,
        serde_json::to_value(vangnet_server::api::openapi::document()).unwrap()
    );
}
