//! The dispatcher console's files (docs/console.md): served without a token,
//! compiled in, each with its content type and a Content-Security-Policy
//! that lets no inline or foreign script run; nothing outside its list is
//! served. The order state gives the map its zones.

use serde_json::{Value, json};
use vangnet_e2e::{AppOptions, TestApp};
use vangnet_proto::token::Role;

const SECRET: &str = vangnet_proto::token::DEVELOPMENT_JWT_SECRET;

async fn app() -> TestApp {
    TestApp::spawn_with(AppOptions::default().env("VANGNET_JWT_SECRET", SECRET)).await
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_console_page_is_served_without_a_token_under_a_strict_policy() {
    let app = app().await;
    let response = app.get("/console/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    let csp = header(&response, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "img-src 'self' data:;",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
}

#[tokio::test]
async fn the_bare_console_path_redirects_to_the_page() {
    let app = app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(app.url("/console")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(header(&response, "location"), "/console/");
}

#[tokio::test]
async fn scripts_styles_and_the_service_worker_have_their_content_types() {
    let app = app().await;
    for (path, content_type) in [
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/sw.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
        ("/console/icon.svg", "image/svg+xml"),
        ("/console/config.json", "application/json"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
    }
}

#[tokio::test]
async fn the_page_has_no_inline_script_or_style() {
    let app = app().await;
    let page = app.get("/console/").await.text().await.unwrap();
    for script in page.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap_or_default();
        assert!(tag.contains("src="), "an inline script: <script{tag}>");
    }
    assert!(!page.contains("<style"), "an inline style block");
    let handler = page.split(" on").skip(1).find(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(handler.is_none(), "an inline event handler: on{handler:?}");
}

#[tokio::test]
async fn nothing_outside_the_console_files_is_served() {
    let app = app().await;
    for path in [
        "/console/../Cargo.toml",
        "/console/..%2fCargo.toml",
        "/console/%2e%2e/%2e%2e/etc/passwd",
        "/console/missing.js",
        "/console/app.js/",
        "/console//etc/passwd",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn without_a_tile_layer_the_settings_name_none() {
    let app = app().await;
    let config: Value = app.get("/console/config.json").await.json().await.unwrap();
    assert_eq!(config, json!({"tile_url": null}));
}

#[tokio::test]
async fn a_tile_layer_opens_the_image_policy_to_its_origin_only() {
    let tiles = "https://tiles.example.org/osm/{z}/{x}/{y}.png";
    let app = TestApp::spawn_with(
        AppOptions::default()
            .env("VANGNET_JWT_SECRET", SECRET)
            .env("VANGNET_CONSOLE_TILE_URL", tiles),
    )
    .await;
    let response = app.get("/console/").await;
    let csp = header(&response, "content-security-policy");
    assert!(
        csp.contains("img-src 'self' data: https://tiles.example.org;"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    let config: Value = app.get("/console/config.json").await.json().await.unwrap();
    assert_eq!(config["tile_url"], tiles);
}

#[tokio::test]
async fn a_tile_layer_that_is_not_https_stops_the_service_at_start() {
    let (status, stderr) = vangnet_e2e::run_vangnet(
        &["serve"],
        &[
            (
                "VANGNET_CONSOLE_TILE_URL",
                "http://tiles.example.org/{z}/{x}/{y}.png",
            ),
            ("VANGNET_HTTP_ADDR", "127.0.0.1:0"),
        ],
    );
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("VANGNET_CONSOLE_TILE_URL"), "{stderr}");
}

#[tokio::test]
async fn the_order_state_gives_the_zones_as_areas_for_the_map() {
    let app = app().await;
    let zones = json!([
        {"id": "home", "geometry": {"type": "Point", "coordinates": [4.4792, 51.9225]}, "radius_m": 250.0, "prealarm_m": 750.0}
    ]);
    app.put_order(json!({
        "id": "map-1", "region": "rotterdam", "exercise": false,
        "victim_devices": ["map-1-v"], "perpetrator_devices": ["map-1-p"],
        "zones": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [4.4792, 51.9225]},
             "properties": {"id": "home", "radius_m": 250, "prealarm_m": 750}}
        ]}
    }))
    .await;
    let token = vangnet_e2e::token_for(SECRET, Role::Dispatcher, &["rotterdam"]);
    let (status, state) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/orders/map-1/state",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["zone_areas"], zones);
}
