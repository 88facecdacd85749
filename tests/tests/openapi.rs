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

#[tokio::test]
async fn every_path_answers_405_with_allow_to_each_method_it_does_not_declare() {
    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
    let app = TestApp::spawn().await;
    let admin = vangnet_e2e::token_for(
        vangnet_proto::token::DEVELOPMENT_JWT_SECRET,
        vangnet_proto::token::Role::Admin,
        &["*"],
    );
    let document: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    let client = reqwest::Client::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let declared: Vec<&str> = METHODS
            .into_iter()
            .filter(|method| item.get(*method).is_some())
            .collect();
        let concrete = path.replace("{id}", "x").replace("{action}", "ack");
        for method in METHODS.into_iter().filter(|m| !declared.contains(m)) {
            let response = client
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 405, "{method} {path}");
            let allow = response.headers()["allow"].to_str().unwrap().to_lowercase();
            let mut allowed: Vec<&str> = allow.split(", ").collect();
            allowed.sort_unstable();
            let mut expected = declared.clone();
            expected.sort_unstable();
            assert_eq!(allowed, expected, "Allow of {path}");
        }
    }
}
