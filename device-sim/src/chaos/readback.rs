//! What Vangnet says it committed, read back through its HTTP API once the
//! faults are over: every alert with its timeline, and the alert stream
//! from the start of its event log.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use vangnet_proto::DispatchBody;

use crate::retry::send_retrying_429;
use crate::scenario::stream;

/// Alerts per page of the list.
const PAGE: usize = 500;

/// An alert and every revision of it, oldest first.
#[derive(Debug, Clone, Deserialize)]
pub struct Alert {
    /// The revisions.
    pub timeline: Vec<DispatchBody>,
}

/// A page of `GET /api/v1/alerts`.
#[derive(Deserialize)]
struct Page {
    items: Vec<DispatchBody>,
    next: Option<String>,
}

/// Vangnet's API, read with an admin token.
pub struct Readback<'a> {
    /// The client.
    pub http: &'a reqwest::Client,
    /// Where the API answers.
    pub base_url: &'a str,
    /// An admin token.
    pub token: &'a str,
}

impl Readback<'_> {
    /// Every alert with its timeline.
    pub async fn alerts(&self) -> anyhow::Result<Vec<Alert>> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        let url = format!("{}/api/v1/alerts", self.base_url);
        loop {
            let mut query = vec![("limit", PAGE.to_string())];
            query.extend(cursor.take().map(|cursor| ("cursor", cursor)));
            let page: Page = self.get(&url, &query).await?;
            ids.extend(page.items.into_iter().map(|item| item.alert_id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut alerts = Vec::with_capacity(ids.len());
        for id in ids {
            let url = format!("{}/api/v1/alerts/{}", self.base_url, id.as_str());
            alerts.push(self.get(&url, &[]).await?);
        }
        Ok(alerts)
    }

    /// The Idempotency-Keys (`alert_id/revision`) of the revisions the
    /// stream sends from the start of its log: once it has sent every key
    /// of `expected`, or what it sent by `timeout`.
    pub async fn streamed(
        &self,
        expected: &HashSet<String>,
        timeout: Duration,
    ) -> anyhow::Result<HashSet<String>> {
        let mut events = stream::listen(self.http, self.base_url, self.token, true).await?;
        let mut seen = HashSet::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while !expected.is_subset(&seen) {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some((_, body))) => {
                    seen.insert(key(&body));
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok(seen)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let url = url::Url::parse_with_params(url, query).with_context(|| format!("URL {url}"))?;
        let request = self.http.get(url.clone()).bearer_auth(self.token);
        let response = send_retrying_429(request)
            .await
            .with_context(|| format!("GET {url}"))?;
        if !response.status().is_success() {
            bail!("GET {url}: {}", response.status());
        }
        response
            .json()
            .await
            .with_context(|| format!("reading GET {url}"))
    }
}

/// A revision's Idempotency-Key: `{alert_id}/{revision}`.
pub fn key(body: &DispatchBody) -> String {
    format!("{}/{}", body.alert_id.as_str(), body.revision)
}
