//! Web Push for a device's phone (docs/app.md): the VAPID public key, and
//! one subscription per device, to which that device's warnings are pushed.
//! Only the device the credentials prove is ever subscribed, so a device
//! cannot subscribe to another's warnings.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{
    DeviceEndpoint, DeviceError, DeviceErrors, authenticate, authenticate_with_fingerprint,
};
use crate::api::methods::Endpoint;
use crate::api::parse_body;
use crate::api::push::{MAX_SUBSCRIPTION_BYTES, PushApi, PushKey};
use crate::push::PushSettings;
use crate::push::subscribe::{SubscriptionRequest, device_subscription_id};
use crate::store::Store;

/// Mounts the device's push routes.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    config
        .service(
            Endpoint::new("/device/v1/push-key")
                .on(Method::GET, key::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/device/v1/push-subscription")
                .on(Method::POST, subscribe::<S>)
                .on(Method::DELETE, unsubscribe::<S>)
                .mount(),
        );
}

/// The VAPID public key a phone subscribes with.
#[utoipa::path(
    get,
    path = "/device/v1/push-key",
    operation_id = "device_push_key",
    tag = "devices",
    security(("device" = [])),
    responses(
        (status = 200, description = "The VAPID public key", body = PushKey),
        DeviceErrors,
    ),
)]
pub(crate) async fn key<S: Store>(
    request: HttpRequest,
    endpoint: web::Data<DeviceEndpoint<S>>,
    push: web::Data<PushApi>,
) -> Result<HttpResponse, DeviceError> {
    authenticate(&request, &endpoint)?;
    let public_key = settings(&push)?.key.public_key();
    Ok(HttpResponse::Ok().json(PushKey { public_key }))
}

/// Subscribes the device's phone to its warnings, replacing the device's
/// earlier subscription; it lasts until the push service drops it, the
/// device unsubscribes, or the device's credentials are removed or replaced.
#[utoipa::path(
    post,
    path = "/device/v1/push-subscription",
    operation_id = "device_push_subscribe",
    tag = "devices",
    security(("device" = [])),
    request_body = SubscriptionRequest,
    responses((status = 204, description = "Subscribed"), DeviceErrors),
)]
pub(crate) async fn subscribe<S: Store>(
    request: HttpRequest,
    body: web::Bytes,
    endpoint: web::Data<DeviceEndpoint<S>>,
    push: web::Data<PushApi>,
    store: web::Data<S>,
) -> Result<HttpResponse, DeviceError> {
    let (device, credential) = authenticate_with_fingerprint(&request, &endpoint)?;
    let settings = settings(&push)?;
    if body.len() > MAX_SUBSCRIPTION_BYTES {
        return Err(DeviceError::Invalid(format!(
            "body: larger than {MAX_SUBSCRIPTION_BYTES} bytes"
        )));
    }
    let subscription = parse_body::<SubscriptionRequest>(&body)
        .map_err(|err| DeviceError::Invalid(err.to_string()))?
        .device_subscription(&device, credential, &settings.endpoints)
        .map_err(DeviceError::Invalid)
        .inspect_err(|_| {
            metrics::counter!("vangnet_push_subscriptions_refused_total").increment(1);
        })?;
    store
        .put_push_subscription(&subscription)
        .await
        .map_err(|_| DeviceError::Unavailable)?;
    tracing::info!(%device, "device push subscription added");
    Ok(HttpResponse::NoContent().finish())
}

/// Removes the device's subscription, if it has one.
#[utoipa::path(
    delete,
    path = "/device/v1/push-subscription",
    operation_id = "device_push_unsubscribe",
    tag = "devices",
    security(("device" = [])),
    responses((status = 204, description = "Unsubscribed, or there was no subscription"), DeviceErrors),
)]
pub(crate) async fn unsubscribe<S: Store>(
    request: HttpRequest,
    endpoint: web::Data<DeviceEndpoint<S>>,
    push: web::Data<PushApi>,
    store: web::Data<S>,
) -> Result<HttpResponse, DeviceError> {
    let device = authenticate(&request, &endpoint)?;
    settings(&push)?;
    let removed = store
        .remove_push_subscription(&device_subscription_id(&device))
        .await
        .map_err(|_| DeviceError::Unavailable)?;
    if removed {
        tracing::info!(%device, "device push subscription removed");
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The push settings, or 404 when Web Push is off.
fn settings(push: &PushApi) -> Result<&PushSettings, DeviceError> {
    push.0.as_ref().ok_or(DeviceError::PushOff)
}
