//! Sends pushes (RFC 8030): each payload encrypted for its browser
//! (RFC 8291, `aes128gcm`), signed with the VAPID key (RFC 8292), with the
//! job's `TTL` and `Urgency` and the alert's `Topic`. A few at a time, each
//! with a timeout, no redirect followed and no private address resolved; 429 and 5xx are tried again a
//! few times, 404 and 410 remove the subscription.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;
use vangnet_proto::TimestampMs;

use super::PushSettings;
use super::queue::{Job, Queue};
use super::resolver::PublicOnly;
use super::subscribe::decode_key;
use crate::store::{PushSubscription, PushSubscriptions};

/// How long a push service may take to answer one request.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Pushes in flight at once.
const CONCURRENCY: usize = 8;
/// Tries after the first of a push the service answered 429 or 5xx to.
const RETRIES: usize = 3;
/// How long a push service keeps a push to a dispatcher that is offline (s).
pub const TTL_S: u64 = 3600;

/// Whose pushes: each counts in its own metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Dispatchers' browsers: `vangnet_push_total`.
    Dispatcher,
    /// Devices' phones: `vangnet_device_push_total`.
    Device,
}

/// What became of one push; the label of `vangnet_push_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The push service took it (2xx).
    Sent,
    /// The subscription is gone (404, 410) and was removed.
    Gone,
    /// The push service refused it (another 4xx or 3xx, or an unusable subscription).
    Rejected,
    /// No answer, or 429 or 5xx every time.
    Failed,
    /// The queue was full and a newer push took its place.
    Dropped,
    /// The subscription's token had expired, or its device's credentials
    /// were removed or replaced; it was removed.
    Expired,
}

impl Outcome {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Gone => "gone",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
            Self::Expired => "expired",
        }
    }

    /// Counts one push to `audience` with this outcome.
    pub fn count(self, audience: Audience) {
        let name = match audience {
            Audience::Dispatcher => "vangnet_push_total",
            Audience::Device => "vangnet_device_push_total",
        };
        metrics::counter!(name, "outcome" => self.label()).increment(1);
    }
}

/// An answer worth trying again after.
#[derive(Debug)]
struct Transient;

/// What sending needs: the HTTP client, the key and the store.
pub struct Sender<S> {
    client: reqwest::Client,
    settings: PushSettings,
    store: Arc<S>,
}

impl<S: PushSubscriptions> Sender<S> {
    /// A sender with its own HTTP client, which follows no redirect.
    pub fn new(settings: PushSettings, store: Arc<S>) -> reqwest::Result<Self> {
        let resolver = PublicOnly::new(settings.endpoints.insecure_hosts.clone());
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(resolver)
            .build()?;
        Ok(Self {
            client,
            settings,
            store,
        })
    }

    /// Sends the queue's pushes to `audience`, a few at a time on `tasks`, until `stop`.
    pub async fn run(
        self: Arc<Self>,
        queue: Arc<Queue>,
        audience: Audience,
        tasks: TaskTracker,
        stop: CancellationToken,
    ) {
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        loop {
            let job = tokio::select! {
                () = stop.cancelled() => return,
                job = queue.take() => job,
            };
            let slot = tokio::select! {
                () = stop.cancelled() => return,
                slot = slots.clone().acquire_owned() => slot,
            };
            let Ok(slot) = slot else { return };
            let (sender, stop) = (self.clone(), stop.clone());
            tasks.spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    outcome = sender.deliver(&job) => outcome.count(audience),
                }
                drop(slot);
            });
        }
    }

    /// Sends one push and settles its subscription.
    async fn deliver(&self, job: &Job) -> Outcome {
        let subscription = &job.subscription;
        if subscription.expires_at.0 <= TimestampMs::now() {
            self.remove(subscription).await;
            return Outcome::Expired;
        }
        let Some(target) = Target::of(subscription, &self.settings) else {
            tracing::warn!(id = %subscription.id, "a stored push subscription is unusable; removed");
            self.remove(subscription).await;
            return Outcome::Rejected;
        };
        let attempt = || self.attempt(&target, job);
        let outcome = attempt
            .retry(
                ExponentialBuilder::new()
                    .with_jitter()
                    .with_min_delay(Duration::from_millis(500))
                    .with_max_times(RETRIES),
            )
            .await
            .unwrap_or(Outcome::Failed);
        if outcome == Outcome::Gone {
            self.remove(subscription).await;
        }
        outcome
    }

    /// One request to the push service.
    async fn attempt(&self, target: &Target, job: &Job) -> Result<Outcome, Transient> {
        let body = match web_push_native::encrypt(job.payload.to_vec(), &target.key, &target.auth) {
            Ok(body) => body,
            Err(err) => {
                tracing::warn!(%err, "a push could not be encrypted");
                return Ok(Outcome::Rejected);
            }
        };
        let now_s = TimestampMs::now().millis() / 1000;
        let signed =
            self.settings
                .key
                .authorization(&target.endpoint, &self.settings.subject, now_s);
        let authorization = match signed {
            Ok(authorization) => authorization,
            Err(err) => {
                tracing::warn!(%err, "a push could not be signed");
                return Ok(Outcome::Rejected);
            }
        };
        let sent = self
            .client
            .post(target.endpoint.clone())
            .header("TTL", job.ttl_s)
            .header("Urgency", job.urgency)
            .header("Topic", job.topic.as_ref())
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await;
        let status = match sent {
            Ok(response) => response.status(),
            Err(err) => {
                tracing::debug!(%err, "a push service did not answer");
                return Err(Transient);
            }
        };
        match status.as_u16() {
            200..=299 => Ok(Outcome::Sent),
            404 | 410 => Ok(Outcome::Gone),
            429 | 500..=599 => Err(Transient),
            _ => {
                tracing::debug!(%status, "a push service refused a push");
                Ok(Outcome::Rejected)
            }
        }
    }

    async fn remove(&self, subscription: &PushSubscription) {
        if let Err(err) = self.store.remove_push_subscription(&subscription.id).await {
            tracing::warn!(%err, "a push subscription could not be removed");
        }
    }
}

/// A subscription's endpoint and keys, decoded.
struct Target {
    endpoint: Url,
    key: p256::PublicKey,
    auth: web_push_native::Auth,
}

impl Target {
    /// The target of `subscription`, if its endpoint is still allowed.
    fn of(subscription: &PushSubscription, settings: &PushSettings) -> Option<Self> {
        let endpoint = settings.endpoints.check(&subscription.endpoint).ok()?;
        let point = decode_key(&subscription.p256dh, 65).ok()?;
        let auth = decode_key(&subscription.auth, 16).ok()?;
        Some(Self {
            endpoint,
            key: p256::PublicKey::from_sec1_bytes(&point).ok()?,
            auth: web_push_native::Auth::clone_from_slice(&auth),
        })
    }
}
