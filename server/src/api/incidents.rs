//! `/api/v1/incidents`: the alerts of each episode as one item
//! (docs/api.md#incidents), read off the alert board by `incident_id`, and
//! off the store past what the board holds.
//!
//! Region scoping is that of the alert list, applied to each alert: an
//! incident shows the alerts of it the caller may see, and one with none is
//! answered as if it did not exist (404).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::alerts::{ListQuery, list_request, may_see, next_page};
use super::methods::Endpoint;
use super::openapi::{BadRequest, CallErrors, IncidentPage, NotFound};
use super::{ApiError, Caller, require};
use crate::alert_board::AlertBoard;
use crate::auth::Role;
use crate::incident::Incident;
use crate::store::Store;

/// Mounts the incident endpoints for a store of type `S`.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    config
        .service(
            Endpoint::new("/api/v1/incidents")
                .on(Method::GET, list::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/api/v1/incidents/{id}")
                .on(Method::GET, read::<S>)
                .mount(),
        );
}

#[derive(Serialize)]
struct Page {
    items: Vec<Incident>,
    next: Option<String>,
}

/// Lists incidents, newest first (by their latest `updated_at`, then id), a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    operation_id = "list_incidents",
    tag = "incidents",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of incidents", body = IncidentPage),
        CallErrors, BadRequest,
    ),
)]
pub(crate) async fn list<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    board: web::Data<AlertBoard>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let claims = &caller.0;
    let (query, limit, before) = list_request(claims, &request)?;
    board.catch_up(store.get_ref()).await?;
    let mut found = board
        .incidents(
            store.get_ref(),
            before.as_ref(),
            limit + 1,
            query.not_resolved(),
            |alert| may_see(claims, alert.region.as_deref()),
            |incident| {
                query.admits(
                    incident.status,
                    incident.priority,
                    incident.exercise,
                    incident.region.as_ref(),
                )
            },
        )
        .await?;
    let next = next_page(&mut found, limit, |(key, _)| key.clone());
    let items = found.into_iter().map(|(_, incident)| incident).collect();
    Ok(HttpResponse::Ok().json(Page { items, next }))
}

/// An incident with the latest revision of each of its alerts.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    operation_id = "read_incident",
    tag = "incidents",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The incident id")),
    responses(
        (status = 200, description = "The incident", body = Incident),
        CallErrors, NotFound,
    ),
)]
pub(crate) async fn read<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    board: web::Data<AlertBoard>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let claims = &caller.0;
    require(claims, &[Role::Dispatcher, Role::Admin])?;
    board.catch_up(store.get_ref()).await?;
    let incident = board
        .incident(store.get_ref(), &id, |alert| {
            may_see(claims, alert.region.as_deref())
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(incident))
}
