//! The HTTP server: liveness, readiness, Prometheus metrics and the API
//! (docs/api.md#health-readiness-and-metrics, docs/api.md#http-api).

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, get, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::alert_board::AlertBoard;
use crate::api::orders::{OrderLimits, OrderWrites};
use crate::api::{self, Authenticator};
use crate::downlink::DeviceLink;
use crate::health::Health;
use crate::orders::OrderIndex;
use crate::partitions::Partitions;
use crate::store::Store;

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
#[get("/healthz")]
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
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
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
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
#[get("/metrics")]
async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// What the API handlers reach: the store, the token check, the partitions'
/// engines (shared with ingest), the active orders and the device messages.
pub struct ApiContext<S> {
    /// Durable state.
    pub store: Arc<S>,
    /// Verifies bearer tokens.
    pub authenticator: Authenticator,
    /// The engines alert acts run on.
    pub partitions: Arc<Partitions<S>>,
    /// The active orders, for the step of an act.
    pub orders: Arc<OrderIndex>,
    /// Publishes what acts tell devices (e.g. `clear`).
    pub devices: DeviceLink,
    /// Limits on orders.
    pub order_limits: OrderLimits,
}

/// Binds `addr` and returns the server, to be awaited by the caller.
pub fn start<S: Store>(
    addr: SocketAddr,
    state: AppState,
    api: ApiContext<S>,
) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let store = web::Data::from(api.store);
    let authenticator = web::Data::new(api.authenticator);
    let partitions = web::Data::from(api.partitions);
    let orders = web::Data::from(api.orders);
    let devices = web::Data::new(api.devices);
    let order_writes = web::Data::new(OrderWrites::new(api.order_limits));
    let board = web::Data::new(AlertBoard::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(store.clone())
            .app_data(authenticator.clone())
            .app_data(partitions.clone())
            .app_data(orders.clone())
            .app_data(devices.clone())
            .app_data(order_writes.clone())
            .app_data(board.clone())
            .app_data(web::PayloadConfig::new(api::MAX_BODY_BYTES))
            .service(healthz)
            .service(readyz)
            .service(prometheus)
            .configure(api::orders::routes::<S>)
            .configure(api::state::routes::<S>)
            .configure(api::stream::routes::<S>)
            .configure(api::alerts::routes::<S>)
            .configure(api::audit::routes::<S>)
            .configure(api::openapi::routes)
    })
    .workers(2)
    .disable_signals()
    .bind(addr)?
    .run();
    Ok(server)
}
