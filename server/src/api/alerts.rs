//! `/api/v1/alerts`: list, read, acknowledge and resolve alerts.
//!
//! A dispatcher sees the alerts of its regions, and every `panic_unassigned`
//! alert as well: those have no region (the device is in no order), are
//! urgent and belong to nobody yet, so every dispatcher must see them.
//! Another region's alert is answered as if it did not exist (404).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::IntoParams;
use vangnet_engine::AlertError;
use vangnet_proto::{AlertId, AlertStatus, DispatchBody, Priority, TimestampMs};

use super::methods::Endpoint;
use super::openapi::{
    ActBody as ActBodyDoc, AlertAction, AlertPage, AlertWithTimeline, BadRequest, CallErrors,
    Conflict, Invalid, NotFound, TooManyRequests,
};
use super::{ApiError, Caller, parse_body, require};
use crate::alert_board::{AlertBoard, BoardKey, key_of};
use crate::auth::{Claims, Role};
use crate::downlink::DeviceLink;
use crate::orders::OrderIndex;
use crate::partitions::{Partitions, StepError};
use crate::store::{Act, PartitionKey, Store, StoreError, StoredAlert};

/// Items per page unless `limit` says otherwise.
pub(super) const PAGE: usize = 100;
/// The largest `limit` accepted.
pub(super) const MAX_PAGE: usize = 500;

/// Mounts the alert endpoints for a store of type `S`.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    config
        .service(
            Endpoint::new("/api/v1/alerts")
                .on(Method::GET, list::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/api/v1/alerts/{id}")
                .on(Method::GET, read::<S>)
                .mount(),
        )
        .service(
            Endpoint::new("/api/v1/alerts/{id}/{action}")
                .on(Method::POST, act::<S>)
                .mount(),
        );
}

/// Whether the caller may see what belongs to `region`; `None` (a
/// `panic_unassigned` alert) is seen by every dispatcher and admin.
pub fn may_see(claims: &Claims, region: Option<&str>) -> bool {
    claims.role == Role::Admin || region.is_none_or(|region| claims.sees_region(region))
}

/// The filters and paging of a list of alerts or incidents.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only items with this status
    status: Option<AlertStatus>,
    /// Only items of this (highest) priority
    priority: Option<Priority>,
    /// Only items of this region (one of the caller's)
    #[param(min_length = 1)]
    region: Option<String>,
    /// Only exercise (true) or real (false) items
    exercise: Option<bool>,
    /// The `next` of the previous page
    #[param(pattern = "^[0-9]{1,19}:")]
    cursor: Option<String>,
    /// Items per page (default 100)
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

impl ListQuery {
    /// Whether an item of this status, priority, kind and region passes the filters.
    pub(super) fn admits(
        &self,
        status: AlertStatus,
        priority: Priority,
        exercise: bool,
        region: Option<&String>,
    ) -> bool {
        self.status.is_none_or(|s| s == status)
            && self.priority.is_none_or(|p| p == priority)
            && self.exercise.is_none_or(|e| e == exercise)
            && self.region.as_ref().is_none_or(|r| region == Some(r))
    }

    /// Whether the filters admit only items not resolved.
    pub(super) fn not_resolved(&self) -> bool {
        matches!(
            self.status,
            Some(AlertStatus::Open | AlertStatus::Acknowledged)
        )
    }

    fn matches(&self, alert: &DispatchBody) -> bool {
        self.admits(
            alert.status,
            alert.priority,
            alert.exercise,
            alert.region.as_ref(),
        )
    }
}

/// A list call's filters, its page size and where it resumes, once the
/// caller may list at all and may see the region it names.
pub(super) fn list_request(
    claims: &Claims,
    request: &HttpRequest,
) -> Result<(ListQuery, usize, Option<BoardKey>), ApiError> {
    require(claims, &[Role::Dispatcher, Role::Admin])?;
    let query = web::Query::<ListQuery>::from_query(request.query_string())
        .map_err(|e| ApiError::BadRequest(format!("query: {e}")))?
        .into_inner();
    if query.region.as_deref() == Some("") {
        return Err(ApiError::BadRequest("region: must not be empty".into()));
    }
    if let Some(region) = &query.region
        && !may_see(claims, Some(region))
    {
        return Err(ApiError::Forbidden(format!(
            "region {region} is not one of yours"
        )));
    }
    let limit = page_size(query.limit, PAGE, MAX_PAGE)?;
    let before = query.cursor.as_deref().map(parse_cursor).transpose()?;
    Ok((query, limit, before))
}

/// A page of the list: each item is an alert's latest revision as JSON.
#[derive(Serialize)]
struct Page<'a> {
    items: Vec<&'a RawValue>,
    next: Option<String>,
}

/// A cursor is `{updated_at ms}:{alert_id}` of the last item of a page
/// (`{updated_at ms}:{incident_id}` in the incident list).
/// Cuts `found` (up to `limit + 1` items) to a page of `limit`, returning
/// the cursor of the next page, made of the last item's key, if there is one.
pub(super) fn next_page<T>(
    found: &mut Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> BoardKey,
) -> Option<String> {
    if found.len() <= limit {
        return None;
    }
    found.truncate(limit);
    found.last().map(|item| {
        let (ms, id) = key(item);
        format!("{ms}:{id}")
    })
}

/// Reads a cursor: up to 19 digits, `:`, then anything (the pattern of `cursor` in [`ListQuery`]).
pub(super) fn parse_cursor(cursor: &str) -> Result<BoardKey, ApiError> {
    cursor
        .split_once(':')
        .filter(|(ms, _)| (1..=19).contains(&ms.len()) && ms.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id.to_owned())))
        .ok_or_else(|| ApiError::BadRequest("cursor: not a cursor of this API".into()))
}

/// The page size a list call asked for, `default` when it named none; 400
/// outside 1 to `max`.
pub(super) fn page_size(
    limit: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::BadRequest(format!("limit: must be 1 to {max}"))),
    }
}

/// Lists alerts, newest first (by `updated_at`, then id), a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of alerts", body = AlertPage),
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
    let mut items = board
        .page(
            store.get_ref(),
            before.as_ref(),
            limit + 1,
            query.not_resolved(),
            |alert| may_see(claims, alert.region.as_deref()) && query.matches(alert),
        )
        .await?;
    let next = next_page(&mut items, limit, |held| key_of(&held.body));
    let items = items.iter().map(|held| &*held.json).collect();
    Ok(HttpResponse::Ok().json(Page { items, next }))
}

/// The alert, if the caller may see it; 404 otherwise.
async fn visible<S: Store>(
    store: &S,
    claims: &Claims,
    id: &AlertId,
) -> Result<StoredAlert, ApiError> {
    let alert = store.alert(id).await?.ok_or(ApiError::NotFound)?;
    if may_see(claims, alert.current.region.as_deref()) {
        Ok(alert)
    } else {
        Err(ApiError::NotFound)
    }
}

fn corrupt(err: serde_json::Error) -> ApiError {
    ApiError::Unavailable(StoreError::Corrupt(err.to_string()))
}

/// The current revision's fields plus `timeline`: every revision, each with
/// the `act` (actor and note) of the person who made it, if one did.
fn with_timeline(alert: &StoredAlert) -> Result<Value, ApiError> {
    let mut timeline = Vec::with_capacity(alert.timeline.len());
    for entry in &alert.timeline {
        let mut revision = serde_json::to_value(&entry.revision).map_err(corrupt)?;
        if let (Some(act), Value::Object(fields)) = (&entry.act, &mut revision) {
            fields.insert("act".into(), serde_json::to_value(act).map_err(corrupt)?);
        }
        timeline.push(revision);
    }
    let mut body = serde_json::to_value(&alert.current).map_err(corrupt)?;
    if let Value::Object(fields) = &mut body {
        fields.insert("timeline".into(), Value::Array(timeline));
    }
    Ok(body)
}

/// An alert with its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/{id}",
    operation_id = "read_alert",
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The alert id")),
    responses(
        (status = 200, description = "The alert with its timeline", body = AlertWithTimeline),
        CallErrors, NotFound,
    ),
)]
pub(crate) async fn read<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Dispatcher, Role::Admin])?;
    let alert = visible(store.get_ref(), &caller.0, &AlertId::new(id.into_inner())).await?;
    Ok(HttpResponse::Ok().json(with_timeline(&alert)?))
}

/// The body of an acknowledgement or resolution.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    #[serde(default)]
    note: String,
}

/// What a dispatcher does to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transition {
    Acknowledge,
    Resolve,
}

impl Transition {
    fn status(self) -> AlertStatus {
        match self {
            Self::Acknowledge => AlertStatus::Acknowledged,
            Self::Resolve => AlertStatus::Resolved,
        }
    }
}

/// Runs the transition as one engine step on the alert's partition, so the
/// new status, its revision (with who and why, which the audit recorder
/// puts in the trail) and its outbox entry are committed together; then
/// tells the devices (e.g. `clear` on resolve).
/// `POST /api/v1/alerts/{id}/ack` and `/api/v1/alerts/{id}/resolve`.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/{action}",
    operation_id = "act_on_alert",
    tag = "alerts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The alert id"),
        ("action" = AlertAction, Path, description = "`ack` or `resolve`"),
    ),
    request_body(content = Option<ActBodyDoc>, description = "Optional for `ack`; `note` is required to resolve"),
    responses(
        (status = 200, description = "The new revision", body = DispatchBody),
        CallErrors, BadRequest, NotFound, Conflict, Invalid, TooManyRequests,
    ),
)]
pub(crate) async fn act<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    partitions: web::Data<Partitions<S>>,
    orders: web::Data<OrderIndex>,
    devices: web::Data<DeviceLink>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let transition = match action.as_str() {
        "ack" => Transition::Acknowledge,
        "resolve" => Transition::Resolve,
        _ => return Err(ApiError::NotFound),
    };
    let claims = &caller.0;
    require(claims, &[Role::Dispatcher])?;
    let id = AlertId::new(id);
    let body: &[u8] = &body;
    let ActBody { note } = if body.iter().all(u8::is_ascii_whitespace) {
        ActBody::default()
    } else {
        parse_body(body)?
    };
    if transition == Transition::Resolve && note.trim().is_empty() {
        return Err(ApiError::Invalid(
            "note: required to resolve an alert".into(),
        ));
    }
    let alert = visible(store.get_ref(), claims, &id).await?;
    if alert.current.status == AlertStatus::Resolved {
        // The engine forgets resolved alerts when it reloads; the store does not.
        let refused = AlertError::InvalidTransition {
            from: AlertStatus::Resolved,
            to: transition.status(),
        };
        return Err(ApiError::Conflict(refused.to_string()));
    }
    let order = match &alert.partition {
        PartitionKey::Order(order_id) => orders.get(order_id),
        PartitionKey::Unassigned => None,
    };
    let recorded = Act {
        actor: claims.sub.clone(),
        note: note.clone(),
    };
    let engine_act = vangnet_engine::Act {
        actor: claims.sub.clone(),
        note,
    };
    let now = TimestampMs::now();
    let outcome = partitions
        .step(
            &alert.partition,
            order.as_ref(),
            now,
            Some(&recorded),
            |engine| match transition {
                Transition::Acknowledge => engine.acknowledge(&id, engine_act.clone(), now),
                Transition::Resolve => engine.resolve(&id, engine_act.clone(), now),
            },
        )
        .await
        .map_err(|err| match err {
            StepError::Refused(AlertError::NotFound) => ApiError::NotFound,
            StepError::Refused(AlertError::NoteRequired) => {
                ApiError::Invalid(format!("note: {}", AlertError::NoteRequired))
            }
            StepError::Refused(refused) => ApiError::Conflict(refused.to_string()),
            StepError::Store(err) => ApiError::Unavailable(err),
        })?;
    devices.publish(outcome.downlink).await;
    let revision = outcome
        .revisions
        .into_iter()
        .find(|revision| revision.alert_id == id)
        .ok_or_else(|| {
            ApiError::Unavailable(StoreError::Corrupt(format!(
                "the step on alert {id} made no revision"
            )))
        })?;
    tracing::info!(alert = %id, actor = %claims.sub, status = ?revision.status, "alert handled");
    Ok(HttpResponse::Ok().json(revision))
}
