//! The HTTP API of SPEC section 7 for people and tools: bearer-token
//! authentication, JSON errors naming what is wrong, and the endpoints.

pub mod alerts;
pub mod audit;
pub mod openapi;
pub mod orders;
pub mod state;
pub mod stream;

use std::future::{Ready, ready};

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::auth::{Claims, Verifier};
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
    /// The store is not reachable; try again.
    #[error("store unavailable, try again")]
    Unavailable(#[from] StoreError),
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
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Unavailable(err) = self {
            tracing::warn!(%err, "API request failed on the store");
        }
        HttpResponse::build(self.status_code()).json(json!({ "error": self.to_string() }))
    }
}

/// Verifies bearer tokens; absent when no key is configured (every call is then 401).
pub struct Authenticator(pub Option<Verifier>);

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
    let unauthorized = |why: &str| ApiError::Unauthorized(why.to_owned());
    let verifier = request
        .app_data::<web::Data<Authenticator>>()
        .and_then(|auth| auth.0.as_ref())
        .ok_or_else(|| unauthorized("no token key is configured"))?;
    let token = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("a bearer token is required"))?;
    verifier.verify(token.trim()).map(Caller).map_err(|err| {
        tracing::debug!(%err, "token refused");
        unauthorized("invalid or expired token")
    })
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
