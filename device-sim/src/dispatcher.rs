//! A simulated police dispatcher for the soak: it reads the alert revisions
//! Vangnet dispatches to the in-process sink and handles them through the
//! HTTP API (docs/api.md#alerts) as a person would. A zone or proximity
//! alert is resolved once its condition has cleared; a panic, which never
//! clears, is acknowledged at once and resolved a while later.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::retry::send_retrying_429;
use crate::sink::Observer;

/// How long the dispatcher takes over a panic, from its first dispatch to resolving it.
const PANIC_HANDLING: Duration = Duration::from_secs(3);
/// Once told to finish, the dispatcher stops when no revision arrived for this long.
const QUIET: Duration = Duration::from_secs(1);
/// The note of every resolution (a note is required to resolve).
const RESOLVE_NOTE: &str = "handled by the soak's simulated dispatcher";

/// What the dispatcher has seen and done so far, read by the soak's samples.
#[derive(Debug, Default)]
pub struct Tally {
    /// Alerts dispatched (distinct alert ids).
    pub raised: AtomicU64,
    /// Alerts whose condition cleared.
    pub cleared: AtomicU64,
    /// Alerts this dispatcher resolved.
    pub resolved: AtomicU64,
    /// Acknowledgements and resolutions the API refused or failed.
    pub failed: AtomicU64,
}

impl Tally {
    /// `(raised, cleared, resolved, failed)` now.
    pub fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.raised.load(Ordering::Relaxed),
            self.cleared.load(Ordering::Relaxed),
            self.resolved.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// The parts of a dispatched revision (docs/api.md#the-request) the dispatcher acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    alert_id: String,
    panic: bool,
    resolved: bool,
    cleared: bool,
}

impl Revision {
    /// The revision a dispatch body carries, if it names an alert.
    fn of(body: &Value) -> Option<Self> {
        Some(Self {
            alert_id: body["alert_id"].as_str()?.to_owned(),
            panic: body["kind"] == "panic",
            resolved: body["status"] == "resolved",
            cleared: !body["cleared_at"].is_null(),
        })
    }
}

/// A sink observer that hands every dispatched revision to the dispatcher.
pub fn observer(revisions: mpsc::UnboundedSender<Revision>) -> Observer {
    Box::new(move |body| {
        if let Some(revision) = Revision::of(body) {
            let _ = revisions.send(revision);
        }
    })
}

/// Where an alert stands with the dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handling {
    /// Seen, its condition lasting (or, for a panic, acknowledged).
    Open,
    /// Resolved, or being resolved.
    Done,
}

/// The dispatcher's connection to Vangnet's API and its bookkeeping.
pub struct Dispatcher {
    http: reqwest::Client,
    base_url: String,
    token: String,
    tally: Arc<Tally>,
    alerts: HashMap<String, Handling>,
    /// Panics acknowledged, and when each is due to be resolved, oldest first.
    panics: VecDeque<(Instant, String)>,
}

impl Dispatcher {
    /// A dispatcher acting on the Vangnet at `base_url` with the dispatcher `token`, counting in `tally`.
    pub fn new(http: reqwest::Client, base_url: &str, token: String, tally: Arc<Tally>) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
            tally,
            alerts: HashMap::new(),
            panics: VecDeque::new(),
        }
    }

    /// Handles `revisions` as they arrive until `finish` fires and then no
    /// revision came for a second; resolves the panics still in hand before returning.
    pub async fn run(
        mut self,
        mut revisions: mpsc::UnboundedReceiver<Revision>,
        mut finish: oneshot::Receiver<()>,
    ) {
        let mut finishing = false;
        loop {
            let panic_due = self.panics.front().map(|(due, _)| *due);
            tokio::select! {
                revision = revisions.recv() => match revision {
                    Some(revision) => self.handle(revision).await,
                    None => break,
                },
                () = sleep_until(panic_due), if panic_due.is_some() => {
                    if let Some((_, id)) = self.panics.pop_front() {
                        self.resolve(&id).await;
                    }
                }
                _ = &mut finish, if !finishing => finishing = true,
                () = tokio::time::sleep(QUIET), if finishing => break,
            }
        }
        while let Some((_, id)) = self.panics.pop_front() {
            self.resolve(&id).await;
        }
    }

    async fn handle(&mut self, revision: Revision) {
        let known = self.alerts.get(&revision.alert_id).copied();
        if known.is_none() {
            self.tally.raised.fetch_add(1, Ordering::Relaxed);
        }
        if revision.resolved {
            self.alerts.insert(revision.alert_id, Handling::Done);
            return;
        }
        match known {
            None if revision.panic => {
                self.alerts
                    .insert(revision.alert_id.clone(), Handling::Open);
                self.act(&revision.alert_id, "ack", json!({})).await;
                self.panics
                    .push_back((Instant::now() + PANIC_HANDLING, revision.alert_id));
            }
            None | Some(Handling::Open) if revision.cleared => {
                self.tally.cleared.fetch_add(1, Ordering::Relaxed);
                self.resolve(&revision.alert_id).await;
            }
            None => {
                self.alerts.insert(revision.alert_id, Handling::Open);
            }
            Some(_) => {}
        }
    }

    /// Resolves the alert unless it is done already.
    async fn resolve(&mut self, id: &str) {
        if self.alerts.get(id) == Some(&Handling::Done) {
            return;
        }
        self.alerts.insert(id.to_owned(), Handling::Done);
        if self
            .act(id, "resolve", json!({ "note": RESOLVE_NOTE }))
            .await
        {
            self.tally.resolved.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `POST /api/v1/alerts/{id}/{action}`; true when it succeeded, counted as failed otherwise.
    async fn act(&self, id: &str, action: &str, body: Value) -> bool {
        let request = self
            .http
            .post(format!("{}/api/v1/alerts/{id}/{action}", self.base_url))
            .bearer_auth(&self.token)
            .json(&body);
        let succeeded = match send_retrying_429(request).await {
            Ok(response) => response.status() == StatusCode::OK,
            Err(_) => false,
        };
        if !succeeded {
            self.tally.failed.fetch_add(1, Ordering::Relaxed);
        }
        succeeded
    }
}

/// Waits until `due`, or for ever without one.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_read_from_its_dispatch_body() {
        let body = json!({"alert_id": "a1", "kind": "zone_alarm", "status": "open",
                          "cleared_at": "2026-11-28T12:00:31.004Z"});
        assert_eq!(
            Revision::of(&body),
            Some(Revision {
                alert_id: "a1".into(),
                panic: false,
                resolved: false,
                cleared: true
            })
        );
        let panic =
            json!({"alert_id": "a2", "kind": "panic", "status": "resolved", "cleared_at": null});
        let panic = Revision::of(&panic).unwrap();
        assert!(panic.panic && panic.resolved && !panic.cleared);
        assert_eq!(Revision::of(&json!({"kind": "panic"})), None);
    }
}
