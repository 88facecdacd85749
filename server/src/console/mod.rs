//! The dispatcher console (docs/console.md): static files compiled into the
//! binary and served under `/console/` with a strict Content-Security-Policy,
//! plus `/console/config.json`, the one setting the page reads before sign-in.
//! The files hold no data: everything comes from the API with the
//! dispatcher's token.

mod assets;
mod tiles;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::web_files;

pub use tiles::TileUrl;

/// What the console's pages are served with.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// The map tile layer the console may draw under its map; none when unset.
    pub tile_url: Option<TileUrl>,
}

/// The headers every console response carries.
struct Policy {
    csp: HeaderValue,
}

impl Policy {
    fn new(settings: &ConsoleSettings) -> Self {
        let images = settings
            .tile_url
            .as_ref()
            .map_or_else(String::new, |tiles| format!(" {}", tiles.origin()));
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{images}; \
             connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        );
        let csp = HeaderValue::from_str(&csp)
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
        Self { csp }
    }

    fn apply(&self, response: &mut actix_web::HttpResponseBuilder) {
        web_files::guard(response, self.csp.clone());
        response.insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
}

/// Mounts the console's pages, its files and its configuration.
pub fn routes(settings: ConsoleSettings) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config: &mut web::ServiceConfig| {
        let policy = web::Data::new(Policy::new(&settings));
        let public = web::Data::new(json!({
            "tile_url": settings.tile_url.as_ref().map(TileUrl::as_str),
        }));
        config
            .app_data(policy)
            .app_data(public)
            .route(
                "/console",
                web::get().to(|| async { web_files::redirect("/console/") }),
            )
            .route("/console/config.json", web::get().to(public_config))
            .route("/console/{file:.*}", web::get().to(file));
    }
}

async fn public_config(
    policy: web::Data<Policy>,
    public: web::Data<serde_json::Value>,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    policy.apply(&mut response);
    response.json(public.get_ref())
}

async fn file(policy: web::Data<Policy>, name: web::Path<String>) -> HttpResponse {
    let Some(asset) = assets::find(&name) else {
        metrics::counter!("vangnet_console_not_found_total").increment(1);
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let mut response = HttpResponse::Ok();
    policy.apply(&mut response);
    response.content_type(asset.content_type).body(asset.bytes)
}
