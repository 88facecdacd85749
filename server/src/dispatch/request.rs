//! One delivery attempt: the body in the route's format, the headers
//! (Idempotency-Key, HMAC signature; docs/api.md#headers), and a 5 s timeout.
//! A redirect is never followed: it is a failed attempt like any other non-2xx.

use std::time::Duration;

use vangnet_proto::DispatchBody;

use super::route::{Format, Route};
use super::{cap, eido};

/// How long dispatch may take to answer before the attempt counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Who Vangnet says it is in CAP and EIDO documents.
const SENDER: &str = "vangnet";

/// The HTTP client every route's worker shares: it follows no redirect, so
/// a 3xx answer (and whatever its target says) is never taken for delivery.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Why an attempt did not deliver.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// The body could not be rendered in the route's format.
    #[error("rendering {0}")]
    Render(String),
    /// No answer, or not a 2xx answer.
    #[error("{0}")]
    Failed(String),
}

impl AttemptError {
    /// Short outcome label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Render(_) => "render_error",
            Self::Failed(_) => "failed",
        }
    }
}

fn render(route: &Route, body: &DispatchBody) -> Result<(Vec<u8>, &'static str), AttemptError> {
    match route.format {
        Format::Json => serde_json::to_vec(body)
            .map(|bytes| (bytes, "application/json"))
            .map_err(|e| AttemptError::Render(e.to_string())),
        Format::Cap => cap::render(body, SENDER)
            .map(|xml| (xml.into_bytes(), "application/cap+xml"))
            .map_err(|e| AttemptError::Render(e.to_string())),
        Format::Eido => serde_json::to_vec(&eido::render(body, SENDER))
            .map(|bytes| (bytes, "application/json"))
            .map_err(|e| AttemptError::Render(e.to_string())),
    }
}

/// Posts one revision to one route.
pub async fn deliver(
    client: &reqwest::Client,
    route: &Route,
    body: &DispatchBody,
) -> Result<(), AttemptError> {
    let (bytes, content_type) = render(route, body)?;
    let mut request = client
        .post(route.url.clone())
        .timeout(TIMEOUT)
        .header("Content-Type", content_type)
        .header(
            "Idempotency-Key",
            format!("{}/{}", body.alert_id, body.revision),
        );
    if let Some(secret) = &route.secret {
        request = request.header(
            "X-Vangnet-Signature",
            vangnet_proto::dispatch_signature(secret.expose(), &bytes),
        );
    }
    if let Some(auth) = &route.auth_header {
        request = request.header(
            "Authorization",
            String::from_utf8_lossy(auth.expose()).into_owned(),
        );
    }
    let response = request
        .body(bytes)
        .send()
        .await
        .map_err(|e| AttemptError::Failed(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(AttemptError::Failed(format!(
            "answered {status}, a redirect, which is never followed"
        )))
    } else {
        Err(AttemptError::Failed(format!("answered {status}")))
    }
}
