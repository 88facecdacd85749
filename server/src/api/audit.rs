//! `GET /api/v1/audit`: the audit trail for auditors, oldest first, a page
//! at a time.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::methods::Endpoint;
use super::openapi::{BadRequest, CallErrors};
use super::{ApiError, Caller, require};
use crate::audit_chain::Entry;
use crate::auth::Role;
use crate::store::AuditLog;

/// Entries per page unless `limit` says otherwise.
const PAGE: usize = 100;
/// The largest `limit` accepted.
const MAX_PAGE: usize = 1000;

/// Mounts the audit endpoint for a store of type `S`.
pub fn routes<S: AuditLog>(config: &mut web::ServiceConfig) {
    config.service(
        Endpoint::new("/api/v1/audit")
            .on(Method::GET, list::<S>)
            .mount(),
    );
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

/// One page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries in chain order.
    pub items: Vec<Entry>,
    /// The `after` of the next page, or null on the last.
    pub next: Option<u64>,
}

/// The audit trail, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "list_audit",
    tag = "audit",
    security(("bearer" = [])),
    params(
        ("after" = Option<u64>, Query, description = "Only entries after this seq (the `next` of the previous page)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Entries per page (default 100)"),
    ),
    responses(
        (status = 200, description = "A page of the audit trail", body = AuditPage),
        CallErrors, BadRequest,
    ),
)]
pub(crate) async fn list<S: AuditLog>(
    caller: Caller,
    store: web::Data<S>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require(&caller.0, &[Role::Auditor])?;
    let query = web::Query::<AuditQuery>::from_query(request.query_string())
        .map_err(|e| ApiError::BadRequest(format!("query: {e}")))?
        .into_inner();
    let after = query.after.unwrap_or(0);
    let limit = super::alerts::page_size(query.limit, PAGE, MAX_PAGE)?;
    let mut items = store.audit_after(after, limit + 1).await?;
    let next = if items.len() > limit {
        items.truncate(limit);
        Some(after + limit as u64)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(AuditPage { items, next }))
}
