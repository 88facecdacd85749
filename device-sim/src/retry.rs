//! Calling Vangnet's API politely: a change refused with 429 (the API's
//! per-holder rate limit) is sent again after the wait the answer names.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

/// Sends `request`, and sends it again after `Retry-After` while the answer is 429.
pub async fn send_retrying_429(mut request: RequestBuilder) -> reqwest::Result<Response> {
    loop {
        let again = request.try_clone();
        let response = request.send().await?;
        match again {
            Some(next) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                tokio::time::sleep(retry_after(&response)).await;
                request = next;
            }
            _ => return Ok(response),
        }
    }
}

/// How long a 429 answer asks the client to wait (`Retry-After` seconds; 1 s if absent).
fn retry_after(response: &Response) -> Duration {
    let seconds = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .unwrap_or(1);
    Duration::from_secs(seconds)
}
