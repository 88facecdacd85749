//! The victim's app at `/app` (docs/app.md): plain HTML, CSS and JavaScript
//! compiled into the binary and served with a strict content security policy.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

use crate::web_files::{self, Asset, CSS, HTML, JS, SVG};

/// Only the app's own files may load, run or be fetched; nothing may frame it.
const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

/// The app's files: the complete list of what `/app/` serves.
static ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        bytes: include_bytes!("../app/index.html"),
        content_type: HTML,
    },
    Asset {
        name: "app.js",
        bytes: include_bytes!("../app/app.js"),
        content_type: JS,
    },
    Asset {
        name: "store.js",
        bytes: include_bytes!("../app/store.js"),
        content_type: JS,
    },
    Asset {
        name: "send.js",
        bytes: include_bytes!("../app/send.js"),
        content_type: JS,
    },
    Asset {
        name: "sw.js",
        bytes: include_bytes!("../app/sw.js"),
        content_type: JS,
    },
    Asset {
        name: "app.css",
        bytes: include_bytes!("../app/app.css"),
        content_type: CSS,
    },
    Asset {
        name: "manifest.webmanifest",
        bytes: include_bytes!("../app/manifest.webmanifest"),
        content_type: "application/manifest+json",
    },
    Asset {
        name: "icon.svg",
        bytes: include_bytes!("../app/icon.svg"),
        content_type: SVG,
    },
];

/// Mounts `GET /app` (a redirect to `/app/`, the service worker's scope) and the files.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route(
            "/app",
            web::get().to(|| async { web_files::redirect("/app/") }),
        )
        .route("/app/{file:.*}", web::get().to(asset));
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    let Some(asset) = web_files::find(ASSETS, &file) else {
        return HttpResponse::NotFound()
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .json(serde_json::json!({ "error": "not found" }));
    };
    let mut response = HttpResponse::Ok();
    web_files::guard(&mut response, HeaderValue::from_static(CSP));
    response
        .insert_header(("Permissions-Policy", "geolocation=(self)"))
        .content_type(asset.content_type)
        .body(asset.bytes)
}

#[cfg(test)]
mod tests {
    use actix_web::App;
    use actix_web::test::{TestRequest, call_service, init_service};

    use super::*;

    async fn get(path: &str) -> actix_web::dev::ServiceResponse {
        let app = init_service(App::new().configure(routes)).await;
        call_service(&app, TestRequest::get().uri(path).to_request()).await
    }

    fn header_of<'r>(response: &'r actix_web::dev::ServiceResponse, name: &str) -> &'r str {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[actix_web::test]
    async fn each_file_is_served_with_its_content_type_and_the_strict_policy() {
        for (path, content_type) in [
            ("/app/", "text/html; charset=utf-8"),
            ("/app/app.js", "text/javascript; charset=utf-8"),
            ("/app/sw.js", "text/javascript; charset=utf-8"),
            ("/app/app.css", "text/css; charset=utf-8"),
            ("/app/manifest.webmanifest", "application/manifest+json"),
            ("/app/icon.svg", "image/svg+xml"),
        ] {
            let response = get(path).await;
            assert_eq!(response.status().as_u16(), 200, "{path}");
            assert_eq!(header_of(&response, "content-type"), content_type, "{path}");
            assert!(
                header_of(&response, "content-security-policy").starts_with("default-src 'self';"),
                "{path}"
            );
            assert_eq!(header_of(&response, "x-content-type-options"), "nosniff");
        }
    }

    #[actix_web::test]
    async fn app_without_a_slash_redirects_into_the_service_workers_scope() {
        let response = get("/app").await;
        assert_eq!(response.status().as_u16(), 308);
        assert_eq!(header_of(&response, "location"), "/app/");
    }

    #[actix_web::test]
    async fn an_unknown_file_is_404() {
        assert_eq!(get("/app/../Cargo.toml").await.status().as_u16(), 404);
        assert_eq!(get("/app/nothing.js").await.status().as_u16(), 404);
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let html = std::str::from_utf8(ASSETS[0].bytes).unwrap();
        assert!(!html.contains("<script>") && !html.contains("style="));
        for tag in html.match_indices("<script").map(|(at, _)| &html[at..]) {
            assert!(tag.starts_with("<script src="), "{}", &tag[..40]);
        }
    }
}
