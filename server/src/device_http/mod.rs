//! The HTTP device endpoint (docs/app.md): a phone sends what an MQTT device
//! publishes, `POST /device/v1/{alarm,loc,status}` with HTTP Basic
//! credentials from the broker's password file, and gets an alarm's receipt
//! in the answer. The device is the one the credentials prove, never one a
//! body or URL names; the message takes the same ingest path as over MQTT.
//! The phone may subscribe to Web Push for its warnings ([`push`]).

mod credentials;
pub mod push;
mod throttle;

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use serde_json::json;
use vangnet_proto::{Channel, DeviceId, RejectReason};

pub use self::credentials::Credentials;
use self::throttle::FailureLimit;
use crate::api::methods::Endpoint;
use crate::ingest::{DirectReply, Ingest, Refusal};
use crate::store::Store;

/// Largest body accepted: the protocol's payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// The realm of the `WWW-Authenticate` challenge.
const REALM: &str = "Basic realm=\"vangnet-device\"";
/// Failed sign-ins one client address may make per window before it must wait.
const FAILURES_PER_ADDRESS: u32 = 10;
/// Failed sign-ins for one device id per window before clients that failed
/// already must wait; a client with no failures is still heard, so that
/// someone guessing at a victim's id cannot lock her phone out.
const FAILURES_PER_DEVICE: u32 = 20;
/// The window of both limits.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Keys each limit remembers; the least recently seen are forgotten first.
const REMEMBERED_KEYS: usize = 10_000;

/// The ingest the endpoint hands messages to; it exists only once the MQTT
/// lanes it publishes device messages through do, so it is set then.
pub struct Intake<S>(Arc<OnceLock<Arc<Ingest<S>>>>);

impl<S> Clone for Intake<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S> Default for Intake<S> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<S> Intake<S> {
    /// Sets the ingest; later calls are ignored.
    pub fn set(&self, ingest: Arc<Ingest<S>>) {
        let _ = self.0.set(ingest);
    }
}

/// What the device routes need: the credentials (none when the endpoint is
/// off), the ingest, and the limits on guessing.
pub struct DeviceEndpoint<S> {
    credentials: Option<Arc<Credentials>>,
    intake: Intake<S>,
    by_address: FailureLimit<IpAddr>,
    by_device: FailureLimit<String>,
}

impl<S> DeviceEndpoint<S> {
    /// The endpoint, on when `credentials` are given.
    pub fn new(credentials: Option<Arc<Credentials>>, intake: Intake<S>) -> Self {
        let keys = NonZeroUsize::new(REMEMBERED_KEYS).unwrap_or(NonZeroUsize::MIN);
        Self {
            credentials,
            intake,
            by_address: FailureLimit::new(FAILURES_PER_ADDRESS, FAILURE_WINDOW, keys),
            by_device: FailureLimit::new(FAILURES_PER_DEVICE, FAILURE_WINDOW, keys),
        }
    }
}

/// Why a device request got no effect; rendered as `{"error": "..."}`.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No `VANGNET_DEVICE_PASSWORD_FILE`.
    #[error("the device endpoint is off: VANGNET_DEVICE_PASSWORD_FILE is not set")]
    Off,
    /// Missing, malformed or wrong credentials.
    #[error("device credentials are required (HTTP Basic: device id and password)")]
    Unauthorized,
    /// Too many failed sign-ins from this client, or for this device.
    #[error("too many failed sign-ins; try again later")]
    Throttled(Duration),
    /// The body is over the protocol's limit.
    #[error("the payload is larger than 64 KiB")]
    TooLarge,
    /// The payload failed validation.
    #[error("{0}")]
    Invalid(String),
    /// The device is in no active order (and the message is no panic).
    #[error("this device is in no active order")]
    NotInOrder,
    /// The device sent more than its rate.
    #[error("too many messages from this device; send again later")]
    RateLimited,
    /// The message failed every time it was handled; it is kept.
    #[error("the message could not be handled; it is kept for an operator")]
    SetAside,
    /// Vangnet is starting or stopping; send again.
    #[error("not taking device messages now; send again")]
    Unavailable,
    /// No `VANGNET_VAPID_KEY_FILE`.
    #[error("Web Push is not configured (VANGNET_VAPID_KEY_FILE)")]
    PushOff,
}

impl actix_web::ResponseError for DeviceError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Off | Self::PushOff => StatusCode::NOT_FOUND,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Throttled(_) | Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::NotInOrder => StatusCode::FORBIDDEN,
            Self::SetAside => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM)));
            }
            Self::Throttled(wait) => {
                let seconds = wait.as_secs().max(1).to_string();
                response.insert_header((header::RETRY_AFTER, seconds));
            }
            Self::RateLimited | Self::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.json(json!({ "error": self.to_string() }))
    }
}

/// Mounts the device routes.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    push::routes::<S>(config);
    config
        .service(
            Endpoint::new("/device/v1/alarm")
                .on(Method::POST, alarm::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/device/v1/loc")
                .on(Method::POST, loc::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/device/v1/status")
                .on(Method::POST, status::<S>)
                .mount(),
        );
}

/// Sends an alarm; answers with its receipt once it is stored.
#[utoipa::path(
    post,
    path = "/device/v1/alarm",
    operation_id = "device_alarm",
    tag = "devices",
    security(("device" = [])),
    request_body(content = Object, description = "An alarm, exactly as on the MQTT `alarm` topic (docs/protocol.md#alarms)"),
    responses(
        (status = 200, description = "The receipt: the alarm and its alerts are stored (the same as the MQTT `ack`); a repeat gets it again", body = Object),
        DeviceErrors,
    ),
)]
pub(crate) async fn alarm<S: Store>(
    request: HttpRequest,
    body: web::Payload,
    endpoint: web::Data<DeviceEndpoint<S>>,
) -> Result<HttpResponse, DeviceError> {
    handle(&request, body, &endpoint, Channel::Alarm).await
}

/// Sends one fix or a batch of fixes.
#[utoipa::path(
    post,
    path = "/device/v1/loc",
    operation_id = "device_loc",
    tag = "devices",
    security(("device" = [])),
    request_body(content = Object, description = "A fix or `{\"fixes\": [...]}`, exactly as on the MQTT `loc` topic (docs/protocol.md#fixes)"),
    responses((status = 202, description = "Stored"), DeviceErrors),
)]
pub(crate) async fn loc<S: Store>(
    request: HttpRequest,
    body: web::Payload,
    endpoint: web::Data<DeviceEndpoint<S>>,
) -> Result<HttpResponse, DeviceError> {
    handle(&request, body, &endpoint, Channel::Loc).await
}

/// Sends a status event.
#[utoipa::path(
    post,
    path = "/device/v1/status",
    operation_id = "device_status",
    tag = "devices",
    security(("device" = [])),
    request_body(content = Object, description = "A status event, exactly as on the MQTT `status` topic (docs/protocol.md#status-events)"),
    responses((status = 202, description = "Stored"), DeviceErrors),
)]
pub(crate) async fn status<S: Store>(
    request: HttpRequest,
    body: web::Payload,
    endpoint: web::Data<DeviceEndpoint<S>>,
) -> Result<HttpResponse, DeviceError> {
    handle(&request, body, &endpoint, Channel::Status).await
}

/// The errors a device request can meet.
#[derive(utoipa::IntoResponses)]
pub enum DeviceErrors {
    /// The payload failed validation; the error names the field.
    #[response(
        status = 400,
        description = "The payload is invalid; the error names the field"
    )]
    Invalid(crate::api::openapi::ErrorBody),
    /// No valid credentials.
    #[response(
        status = 401,
        description = "Missing or wrong device credentials (`WWW-Authenticate: Basic realm=\"vangnet-device\"`)"
    )]
    Unauthorized(crate::api::openapi::ErrorBody),
    /// A device in no order, for anything but a panic.
    #[response(status = 403, description = "The device is in no active order")]
    NotInOrder(crate::api::openapi::ErrorBody),
    /// Over 64 KiB.
    #[response(status = 413, description = "The payload is larger than 64 KiB")]
    TooLarge(crate::api::openapi::ErrorBody),
    /// Too many failed sign-ins, or messages.
    #[response(
        status = 429,
        description = "Too many failed sign-ins or messages; send again after `Retry-After` seconds"
    )]
    TooMany(crate::api::openapi::ErrorBody),
    /// Off.
    #[response(
        status = 404,
        description = "The endpoint is off: no VANGNET_DEVICE_PASSWORD_FILE"
    )]
    Off(crate::api::openapi::ErrorBody),
    /// Starting or stopping.
    #[response(
        status = 503,
        description = "Vangnet is starting or stopping; send again"
    )]
    Unavailable(crate::api::openapi::ErrorBody),
}

async fn handle<S: Store>(
    request: &HttpRequest,
    body: web::Payload,
    endpoint: &DeviceEndpoint<S>,
    channel: Channel,
) -> Result<HttpResponse, DeviceError> {
    let device = authenticate(request, endpoint)?;
    let payload = read_payload(request, body).await?;
    let ingest = endpoint.intake.0.get().ok_or(DeviceError::Unavailable)?;
    match ingest.handle_direct(&device, channel, &payload).await {
        DirectReply::Accepted(Some(receipt)) => Ok(HttpResponse::Ok().json(receipt)),
        DirectReply::Accepted(None) => Ok(HttpResponse::Accepted().finish()),
        DirectReply::Refused(Refusal::Invalid(err))
            if err.reason == RejectReason::UnknownDevice =>
        {
            Err(DeviceError::NotInOrder)
        }
        DirectReply::Refused(Refusal::Invalid(err)) => Err(DeviceError::Invalid(err.to_string())),
        DirectReply::Refused(Refusal::RateLimited) => Err(DeviceError::RateLimited),
        DirectReply::SetAside => Err(DeviceError::SetAside),
        DirectReply::Stopped => Err(DeviceError::Unavailable),
    }
}

/// The device the request's Basic credentials prove, unless the client or
/// the claimed device failed too often; failures are counted.
fn authenticate<S>(
    request: &HttpRequest,
    endpoint: &DeviceEndpoint<S>,
) -> Result<DeviceId, DeviceError> {
    authenticate_with_fingerprint(request, endpoint).map(|(device, _)| device)
}

/// As [`authenticate`], with the fingerprint of the credentials the device
/// was proven by (see [`Credentials::fingerprint`]).
fn authenticate_with_fingerprint<S>(
    request: &HttpRequest,
    endpoint: &DeviceEndpoint<S>,
) -> Result<(DeviceId, String), DeviceError> {
    let Some((id, password)) = basic_credentials(request) else {
        metrics::counter!("vangnet_device_auth_failures_total", "reason" => "missing").increment(1);
        return Err(DeviceError::Unauthorized);
    };
    let credentials = endpoint.credentials.as_ref().ok_or(DeviceError::Off)?;
    let now = Instant::now();
    let address = request
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |peer| peer.ip());
    let throttled = |wait| {
        metrics::counter!("vangnet_device_auth_failures_total", "reason" => "throttled")
            .increment(1);
        DeviceError::Throttled(wait)
    };
    if let Some(wait) = endpoint.by_address.blocked(&address, now) {
        return Err(throttled(wait));
    }
    if let Some(wait) = endpoint.by_device.blocked(&id, now)
        && endpoint.by_address.has_failed(&address, now)
    {
        return Err(throttled(wait));
    }
    if let Some(proven) = credentials.verify(&id, &password) {
        return Ok(proven);
    }
    metrics::counter!("vangnet_device_auth_failures_total", "reason" => "wrong").increment(1);
    tracing::debug!(%address, "device credentials refused");
    endpoint.by_address.failed(address, now);
    endpoint.by_device.failed(id, now);
    Err(DeviceError::Unauthorized)
}

/// The user name and password of an `Authorization: Basic` header.
fn basic_credentials(request: &HttpRequest) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, password) = decoded.split_once(':')?;
    Some((id.to_owned(), password.to_owned()))
}

/// The body, refused as soon as it is known to be over the limit (counted as `too_large`).
async fn read_payload(
    request: &HttpRequest,
    mut body: web::Payload,
) -> Result<web::BytesMut, DeviceError> {
    let too_large = || {
        metrics::counter!("vangnet_rejected_messages_total", "reason" => RejectReason::TooLarge.label())
            .increment(1);
        DeviceError::TooLarge
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_PAYLOAD_BYTES) {
        return Err(too_large());
    }
    let mut payload = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| DeviceError::Invalid("the body could not be read".into()))?;
        if payload.len() + chunk.len() > MAX_PAYLOAD_BYTES {
            return Err(too_large());
        }
        payload.extend_from_slice(&chunk);
    }
    Ok(payload)
}
