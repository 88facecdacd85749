//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers'
//! annotations and served at `GET /api/v1/openapi.json` without a token.

use super::audit::AuditPage;
use super::methods::Endpoint;
use super::orders::{ImportRefusal, ImportReport};
use super::push::PushKey;
use crate::audit_chain::Entry as AuditEntry;
use crate::incident::Incident;
use crate::push::subscribe::{SubscriptionCreated, SubscriptionKeys, SubscriptionRequest};
use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use vangnet_proto::order::{
    CollectionType, Feature, FeatureCollection, FeatureType, Geometry, OrderBody, ProximityRule,
    ZoneBody, Zones,
};
use vangnet_proto::{
    AlertId, AlertKind, AlertStatus, Confidence, DeviceId, DispatchBody, IncidentId, Latitude,
    Longitude, Meters, OrderId, Party, Priority, TimestampMs, UtcTime, ZoneId,
};

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, for people.
    pub error: String,
}

/// The errors any call with a token can meet; each handler's `responses`
/// names this and the other error sets it can answer with.
#[derive(IntoResponses)]
pub enum CallErrors {
    /// No valid bearer token.
    #[response(status = 401, description = "No valid bearer token")]
    Unauthorized(ErrorBody),
    /// A token without the role or scope for the call.
    #[response(
        status = 403,
        description = "The caller's role or scope does not allow this"
    )]
    Forbidden(ErrorBody),
    /// The store did not answer.
    #[response(status = 503, description = "The store is unavailable; try again")]
    Unavailable(ErrorBody),
}

/// A body or query that does not parse.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "The body or query is not of the right shape"
)]
pub struct BadRequest(pub ErrorBody);

/// A resource that is absent, or hidden from the caller.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such resource, or not one the caller may see"
)]
pub struct NotFound(pub ErrorBody);

/// A change that the current state does not allow.
#[derive(IntoResponses)]
#[response(status = 409, description = "Conflict with the current state")]
pub struct Conflict(pub ErrorBody);

/// A well-formed body whose content is invalid.
#[derive(IntoResponses)]
#[response(status = 422, description = "The content is invalid")]
pub struct Invalid(pub ErrorBody);

/// The rate limit on changes per token holder.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many changes by this token holder; send again after `Retry-After` seconds"
)]
pub struct TooManyRequests(pub ErrorBody);

/// One page of the alert list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    /// Alerts, newest first.
    pub items: Vec<DispatchBody>,
    /// The `cursor` of the next page, or null on the last.
    pub next: Option<String>,
}

/// One page of the incident list.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentPage {
    /// Incidents, newest first.
    pub items: Vec<Incident>,
    /// The `cursor` of the next page, or null on the last.
    pub next: Option<String>,
}

/// An alert's current revision plus `timeline`: every revision, each with
/// the `act` (`actor`, `note`) of the person who made it, if one did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertWithTimeline {
    /// The current revision's fields.
    #[serde(flatten)]
    pub current: DispatchBody,
    /// Every revision, oldest first; in a resolved alert older than the
    /// history retention, `victim`, `perpetrator` and `distance_m` are null.
    pub timeline: Vec<serde_json::Value>,
}

/// The body of an acknowledgement or resolution (may be empty for `ack`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActBody {
    /// Why; required (non-blank) to resolve.
    #[serde(default)]
    pub note: String,
}

/// What a dispatcher does to an alert.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    /// Acknowledge: the dispatcher takes the alert.
    Ack,
    /// Resolve: the alert is closed; a note is required.
    Resolve,
}

/// Adds the security schemes: bearer JWTs for people, Basic for devices.
struct BearerJwt;

impl Modify for BearerJwt {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "device",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("A device id and the password `vangnet device` issued"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Vangnet API", version = env!("CARGO_PKG_VERSION")),
    paths(
        super::orders::create,
        super::orders::import,
        super::orders::read,
        super::orders::replace,
        super::orders::end,
        super::state::order_state,
        super::alerts::list,
        super::alerts::read,
        super::alerts::act,
        super::stream::stream,
        super::incidents::list,
        super::incidents::read,
        super::audit::list,
        super::push::key,
        super::push::subscribe,
        super::push::unsubscribe,
        crate::device_http::alarm,
        crate::device_http::loc,
        crate::device_http::status,
        crate::device_http::push::key,
        crate::device_http::push::subscribe,
        crate::device_http::push::unsubscribe,
        serve,
        crate::probes::healthz,
        crate::probes::readyz,
        crate::probes::prometheus,
    ),
    components(schemas(
        ErrorBody, AlertPage, AlertWithTimeline, ActBody, AlertAction, DispatchBody, Party,
        Priority, Confidence, AlertKind, AlertStatus, AlertId, IncidentId, OrderId, ZoneId, DeviceId,
        Incident, IncidentPage,
        Latitude, Longitude, Meters, UtcTime, TimestampMs, OrderBody, ProximityRule, ZoneBody,
        Geometry, Zones, FeatureCollection, CollectionType, Feature, FeatureType,
        AuditPage, AuditEntry, ImportReport, ImportRefusal,
        PushKey, SubscriptionRequest, SubscriptionKeys, SubscriptionCreated,
    )),
    modifiers(&BearerJwt),
)]
struct ApiDoc;

/// The OpenAPI document of the API, with the checks the annotations cannot
/// express written into its schemas.
pub fn document() -> serde_json::Value {
    let generated = ApiDoc::openapi();
    super::constraints::constrained(&generated).unwrap_or_else(|err| {
        tracing::error!(%err, "serving the OpenAPI document without its constraints");
        serde_json::to_value(generated).unwrap_or_default()
    })
}

/// Mounts `GET /api/v1/openapi.json`.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(
        Endpoint::new("/api/v1/openapi.json")
            .on(Method::GET, serve)
            .mount(),
    );
}

/// The OpenAPI document; needs no token.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)),
)]
async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constraint_finds_its_place_in_the_generated_document() {
        if let Err(err) = super::super::constraints::constrained(&ApiDoc::openapi()) {
            panic!("{err}");
        }
    }
}
