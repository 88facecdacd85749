//! The runner's ear: `GET /api/v1/alerts/stream` (Server-Sent Events), every
//! alert revision Vangnet commits, stamped with the moment it arrived.

use std::time::Instant;

use anyhow::{Context, bail};
use tokio::sync::mpsc;
use vangnet_proto::DispatchBody;

/// Opens the stream with a dispatcher or admin `token`, at the start of the
/// event log when `from_start`, else at its end; revisions arrive on the receiver.
pub async fn listen(
    http: &reqwest::Client,
    api_url: &str,
    token: &str,
    from_start: bool,
) -> anyhow::Result<mpsc::UnboundedReceiver<(Instant, DispatchBody)>> {
    let query = if from_start { "?from=start" } else { "" };
    let mut response = http
        .get(format!("{api_url}/api/v1/alerts/stream{query}"))
        .bearer_auth(token)
        .send()
        .await
        .context("GET /api/v1/alerts/stream")?;
    if !response.status().is_success() {
        bail!("GET /api/v1/alerts/stream answered {}", response.status());
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut events = Events::default();
        while let Ok(Some(chunk)) = response.chunk().await {
            for body in events.feed(&chunk) {
                if tx.send((Instant::now(), body)).is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

/// Splits the byte stream into SSE events and keeps the `alert` events' data.
#[derive(Debug, Default)]
struct Events {
    pending: String,
}

impl Events {
    /// Takes more bytes; returns the alert revisions they complete.
    fn feed(&mut self, bytes: &[u8]) -> Vec<DispatchBody> {
        self.pending
            .push_str(&String::from_utf8_lossy(bytes).replace("\r\n", "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.pending.find("\n\n") {
            let block: String = self.pending.drain(..end + 2).collect();
            let mut kind = "message";
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    kind = value.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if kind == "alert"
                && let Ok(body) = serde_json::from_str(&data.join("\n"))
            {
                out.push(body);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"alert_id":"a1","revision":1,"order_id":"o","region":"r","priority":"P1","kind":"panic","confidence":null,"status":"open","exercise":true,"late":false,"count":1,"created_at":"2026-11-28T12:00:01.120Z","updated_at":"2026-11-28T12:00:01.120Z","cleared_at":null,"victim":null,"perpetrator":null,"zone":null,"distance_m":null,"summary":"s"}"#;

    #[test]
    fn an_alert_event_split_across_chunks_is_read_once_complete() {
        let mut events = Events::default();
        let text = format!(": keep-alive\n\nevent: alert\nid: 7\ndata: {BODY}\n\n");
        let (first, second) = text.split_at(40);
        assert!(events.feed(first.as_bytes()).is_empty());
        let bodies = events.feed(second.as_bytes());
        assert_eq!(bodies.len(), 1);
        assert_eq!(bodies[0].alert_id.as_str(), "a1");
    }
}
