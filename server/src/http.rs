//! The HTTP server: liveness, readiness and Prometheus metrics (SPEC sections 2 and 7).

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, get, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::health::Health;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Readiness of broker and store.
    pub health: Arc<Health>,
    /// Renders the Prometheus text exposition.
    pub metrics: PrometheusHandle,
}

fn up_or_down(up: bool) -> &'static str {
    if up { "up" } else { "down" }
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let health = &state.health;
    let body = json!({
        "ready": health.ready(),
        "broker": up_or_down(health.broker()),
        "store": up_or_down(health.store()),
    });
    if health.ready() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[get("/metrics")]
async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Binds `addr` and returns the server, to be awaited by the caller.
pub fn start(addr: SocketAddr, state: AppState) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(healthz)
            .service(readyz)
            .service(prometheus)
    })
    .workers(2)
    .disable_signals()
    .bind(addr)?
    .run();
    Ok(server)
}
