//! `/api/v1/orders`: create, read, replace and end protection orders.
//! Admins manage every order; pilots only exercise orders. A device is in
//! real orders or in exercise orders, never both, and in a limited number of
//! active orders: checked against the orders at the epoch the order is
//! written at, so two instances cannot both store orders that clash.

use std::collections::HashSet;
use std::num::NonZeroUsize;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use backon::BackoffBuilder;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use vangnet_proto::order::OrderBody;
use vangnet_proto::{DeviceId, OrderId, TimestampMs};

use super::methods::Endpoint;
use super::openapi::{BadRequest, CallErrors, Conflict, Invalid, NotFound, TooManyRequests};
use super::{ApiError, Caller, parse_body, require};
use crate::audit_chain::Draft;
use crate::auth::{Claims, Role};
use crate::orders::{Clash, OrderIndex};
use crate::store::{OrderChange, OrderWrite, Store, StoredOrder};

/// Limits on orders that the configuration sets.
#[derive(Debug, Clone, Copy)]
pub struct OrderLimits {
    /// The most active orders one device may be in (`VANGNET_MAX_ORDERS_PER_DEVICE`).
    pub max_per_device: NonZeroUsize,
}

/// Order writes of this instance, checked and written one at a time so that
/// they do not keep moving each other's epoch; only another instance's
/// writes make one try again.
pub struct OrderWrites {
    limits: OrderLimits,
    turn: tokio::sync::Mutex<()>,
}

impl OrderWrites {
    /// Writes under `limits`.
    pub fn new(limits: OrderLimits) -> Self {
        Self {
            limits,
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

/// Writes tried while other instances keep moving the orders' epoch.
const WRITE_ATTEMPTS: usize = 8;

/// Mounts the order endpoints for a store of type `S`.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    config
        .service(
            Endpoint::new("/api/v1/orders/import")
                .with(|r| r.app_data(web::PayloadConfig::new(IMPORT_MAX_BODY_BYTES)))
                .on(Method::POST, import::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/api/v1/orders")
                .on(Method::POST, create::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/api/v1/orders/{id}")
                .on(Method::GET, read::<S>)
                .on(Method::PUT, replace::<S>)
                .on(Method::DELETE, end::<S>)
                .mount(),
        );
}

/// A pilot may only touch exercise orders.
fn may_touch(claims: &Claims, order: &OrderBody) -> Result<(), ApiError> {
    if claims.role == Role::Pilot && !order.exercise {
        return Err(ApiError::Forbidden(
            "a pilot may only use exercise orders".into(),
        ));
    }
    Ok(())
}

/// The order `body` as stored under `id`, and its stored bytes, if it may
/// be admitted as a new or changed order.
pub fn validated(mut body: OrderBody, id: OrderId) -> Result<(OrderBody, Vec<u8>), ApiError> {
    DeviceId::parse(id.as_str(), "id")
        .map_err(|_| ApiError::Invalid("id: must match [A-Za-z0-9_.-]{1,64}".into()))?;
    if id.as_str() == "import" {
        return Err(ApiError::Invalid(
            "id: `import` names the bulk import endpoint".into(),
        ));
    }
    body.id = Some(id);
    vangnet_engine::Order::validate(&body).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Invalid(e.to_string()))?;
    Ok((body, bytes))
}

/// The audit entry of an order change; `stored` is the new body as stored.
fn draft(claims: &Claims, action: &str, body: &OrderBody, stored: Option<&[u8]>) -> Draft {
    let mut detail = json!({ "region": body.region, "exercise": body.exercise });
    if let Some(bytes) = stored {
        detail["body_sha256"] = hex::encode(Sha256::digest(bytes)).into();
    }
    let subject = body.id.as_ref().map_or("", |id| id.as_str());
    Draft::new(&claims.sub, action, subject, detail)
}

/// Stores `order` (whose parsed form is `body`) with its `audit` entry if it
/// clashes with no active order, checked against the orders of the epoch it
/// is written at; checked again when another change moved the epoch meanwhile.
async fn store_checked<S: Store>(
    store: &S,
    index: &OrderIndex,
    writes: &OrderWrites,
    order: &StoredOrder,
    body: &OrderBody,
    change: OrderChange,
    audit: &Draft,
) -> Result<(), ApiError> {
    let _turn = writes.turn.lock().await;
    let mut retries = crate::backoff::order_write(WRITE_ATTEMPTS - 1).build();
    loop {
        index.refresh(store).await?;
        if change == OrderChange::Replace && index.get(&order.id).is_none() {
            return Err(ApiError::NotFound);
        }
        let epoch = index
            .admit(
                &order.id,
                body,
                TimestampMs::now(),
                writes.limits.max_per_device,
            )
            .map_err(refused)?;
        match store.write_order(order, change, epoch, audit).await? {
            OrderWrite::Written => return Ok(()),
            OrderWrite::Exists => {
                return Err(ApiError::Conflict(format!(
                    "order {} exists already",
                    order.id
                )));
            }
            OrderWrite::Moved => match retries.next() {
                Some(wait) => tokio::time::sleep(wait).await,
                None => break,
            },
        }
    }
    Err(ApiError::Conflict(
        "other instances kept changing the orders while this one was checked; try again".into(),
    ))
}

/// Counts a clash and turns it into a 409.
fn refused(clash: Clash) -> ApiError {
    let reason = match clash {
        Clash::Mixed { .. } => "mixed",
        Clash::TooMany { .. } => "too_many",
    };
    metrics::counter!("vangnet_orders_refused_total", "reason" => reason).increment(1);
    ApiError::Conflict(clash.to_string())
}

fn new_order_id() -> OrderId {
    OrderId::new(format!(
        "order-{}-{:04x}",
        TimestampMs::now().millis(),
        fastrand::u16(..)
    ))
}

/// Creates an order; the server assigns an id when the body has none.
#[utoipa::path(
    post,
    path = "/api/v1/orders",
    operation_id = "create_order",
    tag = "orders",
    security(("bearer" = [])),
    request_body = OrderBody,
    responses(
        (status = 201, description = "Created; `Location` names the order", body = OrderBody),
        CallErrors, BadRequest, Conflict, Invalid, TooManyRequests,
    ),
)]
pub(crate) async fn create<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    index: web::Data<OrderIndex>,
    writes: web::Data<OrderWrites>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Admin, Role::Pilot])?;
    let body: OrderBody = parse_body(&body)?;
    may_touch(&caller.0, &body)?;
    let id = body.id.clone().unwrap_or_else(new_order_id);
    let (body, bytes) = validated(body, id.clone())?;
    let order = StoredOrder {
        id: id.clone(),
        body: bytes,
    };
    let audit = draft(&caller.0, "order.create", &body, Some(&order.body));
    store_checked(
        store.get_ref(),
        &index,
        &writes,
        &order,
        &body,
        OrderChange::Create,
        &audit,
    )
    .await?;
    tracing::info!(order = %id, actor = %caller.0.sub, "order created");
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/orders/{id}")))
        .json(body))
}

/// An order as stored, with its id; 404 when there is none.
pub(crate) async fn stored<S: Store>(store: &S, id: &OrderId) -> Result<OrderBody, ApiError> {
    let order = store.order(id).await?.ok_or(ApiError::NotFound)?;
    let mut body: OrderBody = serde_json::from_slice(&order.body)
        .map_err(|e| ApiError::Unavailable(crate::store::StoreError::Corrupt(e.to_string())))?;
    body.id = Some(order.id);
    Ok(body)
}

/// Reads an order.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    operation_id = "read_order",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The order", body = OrderBody),
        CallErrors, NotFound,
    ),
)]
pub(crate) async fn read<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Admin, Role::Pilot])?;
    let body = stored(store.get_ref(), &OrderId::new(id.into_inner())).await?;
    may_touch(&caller.0, &body)?;
    Ok(HttpResponse::Ok().json(body))
}

/// Replaces an order.
#[utoipa::path(
    put,
    path = "/api/v1/orders/{id}",
    operation_id = "replace_order",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order id")),
    request_body = OrderBody,
    responses(
        (status = 200, description = "The order as replaced", body = OrderBody),
        CallErrors, BadRequest, NotFound, Conflict, Invalid, TooManyRequests,
    ),
)]
pub(crate) async fn replace<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    index: web::Data<OrderIndex>,
    writes: web::Data<OrderWrites>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Admin, Role::Pilot])?;
    let id = OrderId::new(id.into_inner());
    let new: OrderBody = parse_body(&body)?;
    if new.id.as_ref().is_some_and(|given| *given != id) {
        return Err(ApiError::Invalid(
            "id: differs from the id in the path".into(),
        ));
    }
    let old = stored(store.get_ref(), &id).await?;
    may_touch(&caller.0, &old)?;
    may_touch(&caller.0, &new)?;
    let (body, bytes) = validated(new, id.clone())?;
    let order = StoredOrder {
        id: id.clone(),
        body: bytes,
    };
    let audit = draft(&caller.0, "order.replace", &body, Some(&order.body));
    store_checked(
        store.get_ref(),
        &index,
        &writes,
        &order,
        &body,
        OrderChange::Replace,
        &audit,
    )
    .await?;
    tracing::info!(order = %id, actor = %caller.0.sub, "order replaced");
    Ok(HttpResponse::Ok().json(body))
}

/// Ends an order: it evaluates nothing more. Its open alerts stay open until
/// a dispatcher resolves them.
#[utoipa::path(
    delete,
    path = "/api/v1/orders/{id}",
    operation_id = "end_order",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 204, description = "Ended"),
        CallErrors, NotFound, TooManyRequests,
    ),
)]
pub(crate) async fn end<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Admin, Role::Pilot])?;
    let id = OrderId::new(id.into_inner());
    let old = stored(store.get_ref(), &id).await?;
    may_touch(&caller.0, &old)?;
    let audit = draft(&caller.0, "order.end", &old, None);
    store.delete_order(&id, &audit).await?;
    tracing::info!(order = %id, actor = %caller.0.sub, "order ended");
    Ok(HttpResponse::NoContent().finish())
}

/// Most bytes one import may carry: enough for tens of thousands of orders.
pub const IMPORT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// What an import did with each order it was given.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct ImportReport {
    /// Orders stored, in the order given.
    created: Vec<OrderId>,
    /// Orders whose id was taken already; left as they were.
    exists: Vec<OrderId>,
    /// Orders refused because they clash with active orders, with why.
    refused: Vec<ImportRefusal>,
}

/// One order an import did not store.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportRefusal {
    /// The order.
    id: OrderId,
    /// Why, for people.
    error: String,
}

/// Creates many orders in one call (a region moving onto Vangnet, or a
/// simulated fleet): a JSON array of orders, each with its `id`. Every body
/// is checked first and none is stored unless all are valid; then each is
/// stored under the same rules as one created alone, in the order given.
#[utoipa::path(
    post,
    path = "/api/v1/orders/import",
    operation_id = "import_orders",
    tag = "orders",
    security(("bearer" = [])),
    request_body = Vec<OrderBody>,
    responses(
        (status = 200, description = "What was stored, what existed already and what clashed", body = ImportReport),
        CallErrors, BadRequest, Invalid, TooManyRequests,
    ),
)]
pub(crate) async fn import<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    index: web::Data<OrderIndex>,
    writes: web::Data<OrderWrites>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Admin])?;
    let bodies: Vec<OrderBody> = parse_body(&body)?;
    let mut seen = HashSet::with_capacity(bodies.len());
    let mut orders = Vec::with_capacity(bodies.len());
    for (position, body) in bodies.into_iter().enumerate() {
        let at = |why: String| ApiError::Invalid(format!("[{position}].{why}"));
        let id = body
            .id
            .clone()
            .ok_or_else(|| at("id: an imported order needs its id".into()))?;
        if !seen.insert(id.clone()) {
            return Err(at(format!("id: {id} is given twice")));
        }
        let (body, bytes) = validated(body, id.clone()).map_err(|err| match err {
            ApiError::Invalid(why) => at(why),
            other => other,
        })?;
        orders.push((StoredOrder { id, body: bytes }, body));
    }
    let report = import_checked(store.get_ref(), &caller.0, &index, &writes, &orders).await?;
    tracing::info!(
        created = report.created.len(),
        exists = report.exists.len(),
        refused = report.refused.len(),
        actor = %caller.0.sub,
        "orders imported"
    );
    Ok(HttpResponse::Ok().json(report))
}

/// Stores `orders` one by one, each checked against the active orders and
/// those stored before it; when another instance moves the orders' epoch,
/// checks the rest again against its orders.
async fn import_checked<S: Store>(
    store: &S,
    claims: &Claims,
    index: &OrderIndex,
    writes: &OrderWrites,
    orders: &[(StoredOrder, OrderBody)],
) -> Result<ImportReport, ApiError> {
    let _turn = writes.turn.lock().await;
    let mut report = ImportReport::default();
    let mut rest = orders.iter().peekable();
    let mut attempt = 0;
    while rest.peek().is_some() {
        if attempt == WRITE_ATTEMPTS {
            report.refused.extend(rest.map(|(order, _)| ImportRefusal {
                id: order.id.clone(),
                error: "other instances kept changing the orders; import it again".into(),
            }));
            break;
        }
        attempt += 1;
        index.refresh(store).await?;
        let working = index.snapshot();
        let mut epoch = working.epoch();
        while let Some((order, body)) = rest.peek() {
            if let Err(clash) = working.admit(
                &order.id,
                body,
                TimestampMs::now(),
                writes.limits.max_per_device,
            ) {
                report.refused.push(ImportRefusal {
                    id: order.id.clone(),
                    error: refused(clash).to_string(),
                });
                rest.next();
                continue;
            }
            let audit = draft(claims, "order.import", body, Some(&order.body));
            match store
                .write_order(order, OrderChange::Create, epoch, &audit)
                .await?
            {
                OrderWrite::Written => {
                    working.insert(order.id.clone(), body.clone());
                    epoch += 1;
                    report.created.push(order.id.clone());
                }
                OrderWrite::Exists => report.exists.push(order.id.clone()),
                OrderWrite::Moved => break,
            }
            rest.next();
        }
    }
    Ok(report)
}
