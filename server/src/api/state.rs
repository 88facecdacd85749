//! `GET /api/v1/orders/{id}/state`: an order's current positions, distances
//! and open alerts, read from its partition's engine without changing it,
//! with the order's zones as areas a map can draw.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use vangnet_engine::OrderView;
use vangnet_proto::order::ZoneBody;
use vangnet_proto::{OrderId, TimestampMs};

use super::alerts::may_see;
use super::methods::Endpoint;
use super::openapi::{CallErrors, NotFound};
use super::orders::stored;
use super::{ApiError, Caller, require};
use crate::auth::Role;
use crate::partitions::Partitions;
use crate::store::{PartitionKey, Store};

/// Mounts the order state endpoint for a store of type `S`.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    config.service(
        Endpoint::new("/api/v1/orders/{id}/state")
            .on(Method::GET, order_state::<S>)
            .mount(),
    );
}

/// The engine's view of an order and the order's zones, always as a list.
#[derive(Serialize)]
struct StateAnswer<'a> {
    #[serde(flatten)]
    view: OrderView,
    zone_areas: &'a [ZoneBody],
}

/// The order's state; 404 for an order of a region the dispatcher does not have.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/state",
    operation_id = "order_state",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The order's current positions, distances and open alerts, and `zone_areas`: its zones as a list of zone bodies", body = Object),
        CallErrors, NotFound,
    ),
)]
pub(crate) async fn order_state<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    partitions: web::Data<Partitions<S>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Admin, Role::Dispatcher])?;
    let id = OrderId::new(id.into_inner());
    let body = std::sync::Arc::new(stored(store.get_ref(), &id).await?);
    if !may_see(&caller.0, Some(&body.region)) {
        return Err(ApiError::NotFound);
    }
    let key = PartitionKey::Order(id.clone());
    let view = partitions
        .view(&key, Some(&body), TimestampMs::now(), |engine| {
            engine.order_view(&id)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(StateAnswer {
        view,
        zone_areas: &body.zones,
    }))
}
