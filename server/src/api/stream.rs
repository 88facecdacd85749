//! `GET /api/v1/alerts/stream`: every alert revision the caller may see, as
//! Server-Sent Events, resumable with `Last-Event-ID`. Each `event: alert` is
//! followed by an `event: incident` with the same id: the alert's incident as
//! it stands when the event is sent (from the alert board, so it may already
//! hold revisions the stream sends next), for screens with one row per
//! incident.
//!
//! The stream tails the store's event log ([`crate::store::EventLog::events_after`]) by
//! polling, so it carries revisions committed by any instance. A new
//! connection starts at the current end of the log, after `Last-Event-ID`
//! when given, or at the start of the log with `?from=start`. Region scoping
//! is that of the alert list. On Redis the log is capped (about 100 000
//! events): a client resuming behind what it dropped, or falling that far
//! behind, first gets an `event: gap` naming the last event it had and the
//! first one it gets next, so it knows to read the alert list again.
//!
//! A client that goes away is noticed when a write to it fails: on an idle
//! stream, at the second keep-alive (about 30 s, measured); until then the
//! connection keeps polling the log.
//!
//! The stream ends when the caller's token expires (at `exp`; a token already
//! in its leeway when the stream opened gets the rest of the leeway), so a
//! revoked or stale token does not keep reading alerts: the client reconnects
//! with a fresh token and `Last-Event-ID`.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream;
use serde::Deserialize;
use tokio::time::Instant;
use vangnet_proto::{DispatchBody, TimestampMs};

use super::alerts::may_see;
use super::methods::Endpoint;
use super::openapi::{BadRequest, CallErrors};
use super::{ApiError, Caller, require};
use crate::alert_board::AlertBoard;
use crate::auth::{Claims, LEEWAY_S, Role};
use crate::store::{EventId, Store, StoreError};

/// How often the log is read for new events.
const POLL: Duration = Duration::from_millis(250);
/// A comment is sent after this long without events, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long to wait after a failed read of the log.
const RETRY: Duration = Duration::from_secs(1);
/// Events read per poll.
const BATCH: usize = 500;

/// Mounts the stream; before `/api/v1/alerts/{id}`, which would take `stream` for an id.
pub fn routes<S: Store>(config: &mut web::ServiceConfig) {
    config.service(
        Endpoint::new("/api/v1/alerts/stream")
            .on(Method::GET, stream::<S>)
            .mount(),
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    from: Option<String>,
}

/// Where a connection is in the log.
struct Tail<S> {
    store: web::Data<S>,
    board: web::Data<AlertBoard>,
    claims: Claims,
    cursor: Option<EventId>,
    last_sent: Instant,
    /// Whether the last read was full, so the log may have dropped what is after the cursor.
    behind: bool,
    /// When the caller's token expires and the stream ends.
    ends_at: Instant,
}

/// When a stream opened now on `claims` ends: at the token's `exp`, or, for a
/// token already past it but within the leeway, when the leeway runs out.
fn token_deadline(claims: &Claims) -> Instant {
    let now_ms = TimestampMs::now().millis();
    let exp_ms = claims.exp.saturating_mul(1000);
    let end_ms = if exp_ms > now_ms {
        exp_ms
    } else {
        exp_ms.saturating_add(LEEWAY_S * 1000)
    };
    Instant::now() + Duration::from_millis(end_ms.saturating_sub(now_ms))
}

/// The live stream of alert revisions.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/stream",
    operation_id = "alert_stream",
    tag = "alerts",
    security(("bearer" = [])),
    params(
        ("from" = Option<String>, Query, description = "`start` to begin at the start of the log", pattern = "^start$"),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events: `id`, `event: alert`, `data` a DispatchBody, then with the same `id` `event: incident`, `data` the alert's Incident as it stands; `event: gap`, `data` `{after, resumed_at}` when the capped log dropped revisions the client had not had. The stream ends when the token expires: reconnect with a fresh token and `Last-Event-ID`", content_type = "text/event-stream", body = String),
        CallErrors, BadRequest,
    ),
)]
pub(crate) async fn stream<S: Store>(
    caller: Caller,
    store: web::Data<S>,
    board: web::Data<AlertBoard>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let claims = caller.0;
    require(&claims, &[Role::Dispatcher, Role::Admin])?;
    let query = web::Query::<StreamQuery>::from_query(request.query_string())
        .map_err(|e| ApiError::BadRequest(format!("query: {e}")))?;
    let resume = request
        .headers()
        .get("last-event-id")
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(EventId::parse)
                .ok_or_else(|| ApiError::BadRequest("Last-Event-ID: not an event id".into()))
        })
        .transpose()?;
    if let Some(other) = query.from.as_deref().filter(|from| *from != "start") {
        return Err(ApiError::BadRequest(format!(
            "from: `{other}` is not `start`"
        )));
    }
    let cursor = match (resume, query.from.as_deref()) {
        (Some(id), _) => Some(id),
        (None, Some(_)) => None,
        (None, None) => store.last_event_id().await?,
    };
    // Fails now, not forever in the loop, when the store cannot be read.
    store.events_after(cursor.as_ref(), 1).await?;
    let tail = Tail {
        store,
        board,
        ends_at: token_deadline(&claims),
        claims,
        behind: cursor.is_some(),
        cursor,
        last_sent: Instant::now(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream::unfold(tail, |mut tail| async move {
            let Ok(chunk) = tokio::time::timeout_at(tail.ends_at, tail.next_chunk()).await else {
                tracing::debug!(sub = %tail.claims.sub, "the token of a stream expired; ending it");
                return None;
            };
            Some((Ok::<_, Infallible>(chunk), tail))
        })))
}

impl<S: Store> Tail<S> {
    /// Waits for the next events the caller may see (or a keep-alive when
    /// due) and renders them. Ends when actix drops the stream, after a
    /// write to the client failed.
    async fn next_chunk(&mut self) -> Bytes {
        loop {
            let mut wait = POLL;
            let gap = match self.gap().await {
                Ok(gap) => gap,
                Err(err) => {
                    tracing::warn!(%err, "reading the event log failed, retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            match self.store.events_after(self.cursor.as_ref(), BATCH).await {
                Ok(events) => {
                    if !events.is_empty()
                        && let Err(err) = self.board.catch_up(self.store.get_ref()).await
                    {
                        tracing::warn!(%err, "reading the alert board failed, retrying");
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                    self.behind = events.len() == BATCH;
                    if self.behind {
                        wait = Duration::ZERO;
                    }
                    let mut chunk = gap.unwrap_or_default();
                    for (id, entry) in events {
                        if may_see(&self.claims, entry.revision.region.as_deref()) {
                            self.render(&id, &entry.revision, &mut chunk).await;
                        }
                        self.cursor = Some(id);
                    }
                    if !chunk.is_empty() {
                        self.last_sent = Instant::now();
                        return Bytes::from(chunk);
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "reading the event log failed, retrying");
                    wait = RETRY;
                }
            }
            if self.last_sent.elapsed() >= KEEP_ALIVE {
                self.last_sent = Instant::now();
                return Bytes::from_static(b": keep-alive\n\n");
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Appends the `alert` event of `body` and the `incident` event of its incident.
    async fn render(&self, id: &EventId, body: &DispatchBody, chunk: &mut String) {
        match serde_json::to_string(body) {
            Ok(json) => chunk.push_str(&format!("id: {id}\nevent: alert\ndata: {json}\n\n")),
            Err(err) => {
                tracing::error!(%id, %err, "skipping an event");
                return;
            }
        }
        let visible = |alert: &DispatchBody| may_see(&self.claims, alert.region.as_deref());
        let incident = self
            .board
            .incident(self.store.get_ref(), body.incident_id.as_str(), visible)
            .await;
        let incident = match incident {
            Ok(Some(incident)) => incident,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(%id, %err, "skipping an incident event: the store failed");
                return;
            }
        };
        match serde_json::to_string(&incident) {
            Ok(json) => chunk.push_str(&format!("id: {id}\nevent: incident\ndata: {json}\n\n")),
            Err(err) => tracing::error!(%id, %err, "skipping an incident event"),
        }
    }

    /// The `gap` event to send before the next read, when the log dropped
    /// events after the cursor; asked only of a tail that may be that far behind.
    async fn gap(&mut self) -> Result<Option<String>, StoreError> {
        let Some(after) = self.cursor.as_ref().filter(|_| self.behind) else {
            return Ok(None);
        };
        let Some(resumed_at) = self.store.log_gap_after(Some(after)).await? else {
            return Ok(None);
        };
        tracing::warn!(%after, %resumed_at, "a stream client missed revisions the event log dropped");
        let data =
            serde_json::json!({"after": after.to_string(), "resumed_at": resumed_at.to_string()});
        Ok(Some(format!("event: gap\ndata: {data}\n\n")))
    }
}
