//! Web Push subscriptions of dispatchers' browsers (docs/push.md): the
//! VAPID public key to subscribe with, subscribing, and unsubscribing.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use vangnet_proto::TimestampMs;

use super::methods::Endpoint;
use super::openapi::{BadRequest, CallErrors, Conflict, NotFound, TooManyRequests};
use super::{ApiError, Caller, parse_body, require};
use crate::auth::{Claims, Role};
use crate::push::subscribe::{SubscriptionCreated, SubscriptionRequest};
use crate::push::{MAX_PER_HOLDER, PushSettings};
use crate::store::{PushSubscription, Store};

/// Largest subscription body accepted; a browser's is a few hundred bytes.
pub(crate) const MAX_SUBSCRIPTION_BYTES: usize = 4096;

/// Web Push as the API sees it: `None` when no VAPID key is configured.
pub struct PushApi(pub Option<PushSettings>);

impl PushApi {
    fn settings(&self) -> Result<&PushSettings, ApiError> {
        self.0.as_ref().ok_or_else(|| {
            ApiError::NotConfigured("Web Push is not configured (VANGNET_VAPID_KEY_FILE)".into())
        })
    }
}

/// The VAPID public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushKey {
    /// The uncompressed P-256 point, base64url without padding: the
    /// `applicationServerKey` of `pushManager.subscribe`.
    pub public_key: String,
}

/// Mounts the push endpoints for a store of type `S`.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    config
        .service(
            Endpoint::new("/api/v1/push/key")
                .on(Method::GET, key)
                .mount(),
        )
        .service(
            Endpoint::new("/api/v1/push/subscriptions")
                .on(Method::POST, subscribe::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/api/v1/push/subscriptions/{id}")
                .on(Method::DELETE, unsubscribe::<S>)
                .mount(),
        );
}

/// The VAPID public key browsers subscribe with.
#[utoipa::path(
    get,
    path = "/api/v1/push/key",
    operation_id = "push_key",
    tag = "push",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The VAPID public key", body = PushKey),
        CallErrors, NotFound,
    ),
)]
pub(crate) async fn key(
    caller: Caller,
    push: web::Data<PushApi>,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Dispatcher, Role::Admin])?;
    let public_key = push.settings()?.key.public_key();
    Ok(HttpResponse::Ok().json(PushKey { public_key }))
}

/// Subscribes the caller's browser to P1 and P2 alerts of the caller's
/// regions until the caller's token expires (at most 24 hours); the same
/// endpoint again replaces its subscription.
#[utoipa::path(
    post,
    path = "/api/v1/push/subscriptions",
    operation_id = "push_subscribe",
    tag = "push",
    security(("bearer" = [])),
    request_body = SubscriptionRequest,
    responses(
        (status = 201, description = "Subscribed", body = SubscriptionCreated),
        CallErrors, BadRequest, NotFound, Conflict, TooManyRequests,
    ),
)]
pub(crate) async fn subscribe<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    push: web::Data<PushApi>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Dispatcher, Role::Admin])?;
    let settings = push.settings()?;
    let now = TimestampMs::now();
    if caller.0.exp.saturating_mul(1000) <= now.millis() {
        return Err(ApiError::Unauthorized(
            "the token is in its last seconds of grace: sign in again, then subscribe".into(),
        ));
    }
    let subscription = requested(&body, &caller.0, settings, now).inspect_err(|_| {
        metrics::counter!("vangnet_push_subscriptions_refused_total").increment(1);
    })?;
    check_room(store.get_ref(), &subscription, settings, now).await?;
    store.put_push_subscription(&subscription).await?;
    tracing::info!(id = %subscription.id, actor = %caller.0.sub, "push subscription added");
    Ok(HttpResponse::Created().json(SubscriptionCreated {
        id: subscription.id,
        expires_at: subscription.expires_at,
    }))
}

/// The subscription `body` asks for on behalf of `claims`, or the field at fault.
fn requested(
    body: &[u8],
    claims: &Claims,
    settings: &PushSettings,
    now: TimestampMs,
) -> Result<PushSubscription, ApiError> {
    if body.len() > MAX_SUBSCRIPTION_BYTES {
        return Err(ApiError::BadRequest(format!(
            "body: larger than {MAX_SUBSCRIPTION_BYTES} bytes"
        )));
    }
    parse_body::<SubscriptionRequest>(body)?
        .subscription(claims, &settings.endpoints, now)
        .map_err(ApiError::BadRequest)
}

/// Refuses (409) a subscription beyond its holder's or the service's limit;
/// replacing one of the same endpoint is always allowed.
async fn check_room<S: Store>(
    store: &S,
    subscription: &PushSubscription,
    settings: &PushSettings,
    now: TimestampMs,
) -> Result<(), ApiError> {
    let others: Vec<_> = store
        .push_subscriptions()
        .await?
        .into_iter()
        .filter(|s| s.device.is_none() && s.expires_at.0 > now && s.id != subscription.id)
        .collect();
    let holders = others.iter().filter(|s| s.owner == subscription.owner);
    if holders.count() >= MAX_PER_HOLDER {
        return Err(ApiError::Conflict(format!(
            "you have {MAX_PER_HOLDER} push subscriptions already; delete one first"
        )));
    }
    if others.len() >= settings.max_subscriptions.get() {
        return Err(ApiError::Conflict(
            "the service holds as many push subscriptions as it may; try again later".into(),
        ));
    }
    Ok(())
}

/// Removes a subscription of the caller's (an admin's: anyone's).
#[utoipa::path(
    delete,
    path = "/api/v1/push/subscriptions/{id}",
    operation_id = "push_unsubscribe",
    tag = "push",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 204, description = "Unsubscribed"),
        CallErrors, NotFound, TooManyRequests,
    ),
)]
pub(crate) async fn unsubscribe<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Dispatcher, Role::Admin])?;
    let id = id.into_inner();
    let owned = store
        .push_subscriptions()
        .await?
        .into_iter()
        .filter(|s| s.device.is_none())
        .any(|s| s.id == id && (s.owner == caller.0.sub || caller.0.role == Role::Admin));
    if !owned || !store.remove_push_subscription(&id).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(%id, actor = %caller.0.sub, "push subscription removed");
    Ok(HttpResponse::NoContent().finish())
}
