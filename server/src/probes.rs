//! Liveness, readiness and metrics: what an orchestrator and Prometheus ask.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::api::methods::Endpoint;
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

/// Liveness: always 200 while the process serves; a dispatch route whose
/// oldest undelivered P1 is older than `VANGNET_DISPATCH_DEGRADED_AFTER_S`,
/// or an open P1 or P2 alert that no route takes, makes the status `degraded`.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\" | \"degraded\", \"degraded_routes\": [...], \"unrouted_alerts\": n}`", body = Object)),
)]
pub(crate) async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let degraded = state.health.degraded_routes();
    let unrouted = state.health.unrouted_alerts();
    let status = if degraded.is_empty() && unrouted == 0 {
        "ok"
    } else {
        "degraded"
    };
    HttpResponse::Ok().json(json!({
        "status": status,
        "degraded_routes": degraded,
        "unrouted_alerts": unrouted,
    }))
}

/// Readiness: 200 when the broker subscriptions and the store are up and no
/// lane is stalled, 503 otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready: `{\"ready\": true, \"broker\": \"up\", \"store\": \"up\", \"stalled_lanes\": []}`", body = Object),
        (status = 503, description = "Not ready; names what is down", body = Object),
    ),
)]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let health = &state.health;
    let body = json!({
        "ready": health.ready(),
        "broker": up_or_down(health.broker()),
        "store": up_or_down(health.store()),
        "stalled_lanes": health.stalled_lanes(),
    });
    if health.ready() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain; version=0.0.4", body = String)),
)]
pub(crate) async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// Mounts `/healthz`, `/readyz` and `/metrics`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(Endpoint::new("/healthz").on(Method::GET, healthz).mount())
        .service(Endpoint::new("/readyz").on(Method::GET, readyz).mount())
        .service(
            Endpoint::new("/metrics")
                .on(Method::GET, prometheus)
                .mount(),
        );
}
