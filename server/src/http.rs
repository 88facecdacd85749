//! The HTTP server: liveness, readiness, Prometheus metrics and the API
//! (docs/api.md#health-readiness-and-metrics, docs/api.md#http-api), the
//! device endpoint and the victim's app at `/app` (docs/app.md).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::alert_board::AlertBoard;
use crate::api::orders::{OrderLimits, OrderWrites};
use crate::api::push::PushApi;
use crate::api::{self, Authenticator};
use crate::console::{self, ConsoleSettings};
use crate::device_http::DeviceEndpoint;
use crate::downlink::DeviceLink;
use crate::orders::OrderIndex;
use crate::partitions::Partitions;
use crate::probes::{self, AppState};
use crate::push::PushSettings;
use crate::store::Store;

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
    /// How long after the newest revision the alert board holds a resolved incident.
    pub alert_window: Duration,
    /// Web Push to dispatchers, when configured.
    pub push: Option<PushSettings>,
    /// What the dispatcher console is served with.
    pub console: ConsoleSettings,
    /// The HTTP device endpoint (docs/app.md).
    pub device_endpoint: DeviceEndpoint<S>,
}

/// Serves on `listener`; returns the server, to be awaited by the caller.
pub fn start<S: Store>(
    listener: TcpListener,
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
    let board = web::Data::new(AlertBoard::new(api.alert_window));
    let push = web::Data::new(PushApi(api.push));
    let console_settings = api.console;
    let device_endpoint = web::Data::new(api.device_endpoint);
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
            .app_data(push.clone())
            .app_data(device_endpoint.clone())
            .app_data(web::PayloadConfig::new(api::MAX_BODY_BYTES))
            .configure(probes::routes)
            .configure(api::orders::routes::<S>)
            .configure(api::state::routes::<S>)
            .configure(api::stream::routes::<S>)
            .configure(api::alerts::routes::<S>)
            .configure(api::incidents::routes::<S>)
            .configure(api::audit::routes::<S>)
            .configure(api::push::routes::<S>)
            .configure(api::openapi::routes)
            .configure(console::routes(console_settings.clone()))
            .configure(crate::device_http::routes::<S>)
            .configure(crate::device_app::routes)
    })
    .workers(2)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
