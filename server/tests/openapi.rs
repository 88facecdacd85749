//! The checked-in OpenAPI document must match the handlers' annotations.
//! Run with `VANGNET_BLESS=1` to rewrite it after changing the API.

use std::path::Path;

#[test]
fn openapi_document_matches_the_handlers() {
    let document = vangnet_server::api::openapi::document();
    let text = serde_json::to_string_pretty(&document).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("VANGNET_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with VANGNET_BLESS=1)", path.display()));
    assert!(
        checked_in == text,
        "{} has drifted from the handlers: run `VANGNET_BLESS=1 cargo test -p vangnet-server --test openapi` and commit",
        path.display()
    );
}

#[test]
fn openapi_document_is_3_1_with_every_endpoint() {
    let document = serde_json::to_value(vangnet_server::api::openapi::document()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(document["info"]["title"], "Vangnet API");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    for path in [
        "/api/v1/orders",
        "/api/v1/orders/{id}",
        "/api/v1/orders/{id}/state",
        "/api/v1/alerts",
        "/api/v1/alerts/{id}",
        "/api/v1/alerts/{id}/{action}",
        "/api/v1/alerts/stream",
        "/api/v1/audit",
        "/api/v1/push/key",
        "/api/v1/push/subscriptions",
        "/api/v1/push/subscriptions/{id}",
        "/api/v1/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/device/v1/alarm",
        "/device/v1/loc",
        "/device/v1/status",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is missing");
    }
    assert!(document["paths"]["/api/v1/openapi.json"]["get"]["security"].is_null());
    assert!(document["paths"]["/api/v1/alerts"]["get"]["security"].is_array());
    assert_eq!(
        document["paths"]["/device/v1/alarm"]["post"]["security"][0]["device"],
        serde_json::json!([])
    );
}
