//! The HTTP API for people and tools (docs/api.md#http-api): bearer-token
//! authentication, JSON errors naming what is wrong, and the endpoints.

pub mod alerts;
pub mod audit;
pub mod constraints;
pub mod incidents;
pub mod methods;
pub mod openapi;
pub mod orders;
pub mod push;
pub mod state;
pub mod stream;

use std::future::{Ready, ready};
use std::num::NonZeroU32;

use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;

use crate::auth::{Claims, Refusal, Role, Verifier};
use crate::store::StoreError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a request failed; rendered as `{"error": "..."}` with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token without the right role or scope.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there (or nothing the caller may see).
    #[error("not found")]
    NotFound,
    /// The id exists already.
    #[error("{0}")]
    Conflict(String),
    /// The body is not JSON of the right shape.
    #[error("{0}")]
    BadRequest(String),
    /// The body is well-formed but its content is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The caller made too many changes in a short time.
    #[error("too many changes; slow down and try again")]
    TooManyRequests,
    /// The store is not reachable; try again.
    #[error("store unavailable, try again")]
    Unavailable(#[from] StoreError),
    /// A feature the deployment has not configured.
    #[error("{0}")]
    NotConfigured(String),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::NotConfigured(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Unavailable(err) = self {
            tracing::warn!(%err, "API request failed on the store");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Self::TooManyRequests = self {
            response.insert_header((actix_web::http::header::RETRY_AFTER, "1"));
        }
        response.json(json!({ "error": self.to_string() }))
    }
}

/// Verifies bearer tokens, and limits how fast one token holder changes things.
pub struct Authenticator {
    /// Absent when no key is configured: every call is then 401.
    verifier: Option<Verifier>,
    /// Changes (every method but GET and HEAD) per token `sub`.
    changes: DefaultKeyedRateLimiter<String>,
}

impl Authenticator {
    /// Checks tokens with `verifier` and allows each holder `changes_per_minute`
    /// changes, in bursts of up to a tenth of that.
    pub fn new(verifier: Option<Verifier>, changes_per_minute: NonZeroU32) -> Self {
        let burst = NonZeroU32::new(changes_per_minute.get() / 10).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(changes_per_minute).allow_burst(burst);
        Self {
            verifier,
            changes: RateLimiter::keyed(quota),
        }
    }
}

/// The verified claims of the caller.
pub struct Caller(pub Claims);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

fn authenticate(request: &HttpRequest) -> Result<Caller, ApiError> {
    let authenticator = request.app_data::<web::Data<Authenticator>>();
    let claims =
        verified_claims(request, authenticator.map(|data| data.get_ref())).map_err(|refusal| {
            metrics::counter!("vangnet_api_auth_failures_total", "reason" => refusal.label())
                .increment(1);
            tracing::debug!(reason = refusal.label(), "token refused");
            ApiError::Unauthorized(
                match refusal {
                    Refusal::Missing => "a bearer token is required",
                    Refusal::NoKeyConfigured => "no token key is configured",
                    _ => "invalid or expired token",
                }
                .to_owned(),
            )
        })?;
    let reads = [Method::GET, Method::HEAD];
    if let Some(authenticator) = authenticator
        && !reads.contains(request.method())
        && authenticator.changes.check_key(&claims.sub).is_err()
    {
        return Err(ApiError::TooManyRequests);
    }
    Ok(Caller(claims))
}

/// The claims of the request's bearer token, or why there are none.
fn verified_claims(
    request: &HttpRequest,
    authenticator: Option<&Authenticator>,
) -> Result<Claims, Refusal> {
    let verifier = authenticator
        .and_then(|authenticator| authenticator.verifier.as_ref())
        .ok_or(Refusal::NoKeyConfigured)?;
    let token = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(Refusal::Missing)?;
    verifier.verify(token.trim())
}

/// Refuses (403) a caller whose role is not one of `allowed`.
pub fn require(claims: &Claims, allowed: &[Role]) -> Result<(), ApiError> {
    if allowed.contains(&claims.role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "role {:?} may not do this",
            claims.role
        )))
    }
}

/// Parses a JSON body, naming the field at fault.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::BadRequest(format!("{field}: {}", err.inner()))
    })
}
