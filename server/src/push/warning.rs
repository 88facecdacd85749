//! Warnings pushed to devices' phones (docs/app.md): every `cmd` a step
//! publishes to a device over MQTT also goes to that device's phone, if it
//! subscribed. Handing one over never waits (a bounded queue that drops its
//! oldest); finding the subscription, and checking that the device's
//! credentials are still the ones it subscribed with, happen here, off the
//! ingest path.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use vangnet_proto::{AlertId, Command, CommandKind, DeviceId, TimestampMs, WarningLevel};

use super::notice::topic;
use super::queue::{Job, Queue};
use super::sender::{Audience, Outcome};
use super::subscribe::device_subscription_id;
use crate::device_http::Credentials;
use crate::store::{PushSubscription, PushSubscriptions};

/// How long a push service keeps a warning for a phone that is offline (s):
/// a stale warning misleads.
pub const TTL_S: u64 = 300;

/// Hands warnings to the pusher; cheap to clone.
#[derive(Clone)]
pub struct Warnings(Arc<Queue<Warning>>);

impl Warnings {
    /// A handle on `queue`.
    pub(super) fn new(queue: Arc<Queue<Warning>>) -> Self {
        Self(queue)
    }

    /// Queues `command` for `device`'s phone; never waits.
    pub fn offer(&self, device: &DeviceId, command: &Command) {
        let warning = Warning {
            device: device.clone(),
            command: command.clone(),
        };
        if self.0.offer(warning).is_some() {
            Outcome::Dropped.count(Audience::Device);
        }
    }
}

/// A warning for one device.
#[derive(Debug)]
pub struct Warning {
    device: DeviceId,
    command: Command,
}

/// What a phone's service worker receives: the `cmd`'s fields and a plain
/// text, never a position, distance, zone or the other party.
#[derive(Debug, Serialize)]
pub struct DeviceNotice<'a> {
    /// Always `warning`.
    pub kind: CommandKind,
    /// `prealarm`, `alarm` or `clear`.
    pub level: WarningLevel,
    /// The alert the warning belongs to.
    pub alert_id: &'a AlertId,
    /// Server time of the warning (epoch ms).
    pub ts: TimestampMs,
    /// The notification's title.
    pub title: &'static str,
    /// The notification's text.
    pub body: &'static str,
}

impl<'a> DeviceNotice<'a> {
    /// The notice of `command`.
    pub fn of(command: &'a Command) -> Self {
        let (title, body) = match command.level {
            WarningLevel::Prealarm => (
                "Warning: stay alert",
                "Follow the instructions you were given.",
            ),
            WarningLevel::Alarm => (
                "Alarm: go to a safe place",
                "Go to a safe place if you can. The control room has been alerted.",
            ),
            WarningLevel::Clear => ("All clear", "The warning has ended."),
        };
        Self {
            kind: command.kind,
            level: command.level,
            alert_id: &command.alert_id,
            ts: command.ts,
            title,
            body,
        }
    }
}

/// Turns `warnings` into pushes on `jobs` until `stop`.
pub async fn run<S: PushSubscriptions>(
    store: Arc<S>,
    credentials: Arc<Credentials>,
    warnings: Arc<Queue<Warning>>,
    jobs: Arc<Queue>,
    stop: CancellationToken,
) {
    loop {
        let warning = tokio::select! {
            () = stop.cancelled() => return,
            warning = warnings.take() => warning,
        };
        if let Some(job) = job_for(store.as_ref(), &credentials, &warning).await
            && jobs.offer(job).is_some()
        {
            Outcome::Dropped.count(Audience::Device);
        }
    }
}

/// The push of `warning` to its device's subscription, if it has one whose
/// credentials are still current; one whose credentials are not is removed.
async fn job_for<S: PushSubscriptions>(
    store: &S,
    credentials: &Credentials,
    warning: &Warning,
) -> Option<Job> {
    let subscription = subscription_of(store, &warning.device).await?;
    let bound = subscription.device.as_ref()?;
    if credentials.fingerprint(warning.device.as_str()).as_deref() != Some(&bound.credential) {
        if let Err(err) = store.remove_push_subscription(&subscription.id).await {
            tracing::warn!(%err, "a push subscription could not be removed");
        }
        tracing::info!(device = %warning.device, "the device's credentials changed; its push subscription was removed");
        Outcome::Expired.count(Audience::Device);
        return None;
    }
    let payload = serde_json::to_vec(&DeviceNotice::of(&warning.command)).ok()?;
    let urgency = match warning.command.level {
        WarningLevel::Prealarm | WarningLevel::Alarm => "high",
        WarningLevel::Clear => "normal",
    };
    Some(Job {
        subscription,
        payload: Arc::new(payload),
        topic: Arc::from(topic(&warning.command.alert_id)),
        urgency,
        ttl_s: TTL_S,
    })
}

/// `device`'s own subscription, if it has one.
async fn subscription_of<S: PushSubscriptions>(
    store: &S,
    device: &DeviceId,
) -> Option<PushSubscription> {
    let id = device_subscription_id(device);
    match store.push_subscriptions().await {
        Ok(subscriptions) => subscriptions
            .into_iter()
            .find(|s| s.id == id && s.device.as_ref().is_some_and(|d| d.id == *device)),
        Err(err) => {
            tracing::warn!(%err, "push subscriptions unreadable; a warning is not pushed");
            Outcome::Failed.count(Audience::Device);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(alert: &str) -> Command {
        Command {
            kind: CommandKind::Warning,
            level: WarningLevel::Alarm,
            alert_id: AlertId::new(alert),
            ts: TimestampMs(1_764_331_200_000),
        }
    }

    #[tokio::test]
    async fn handing_over_a_warning_never_waits_and_a_full_queue_drops_the_oldest() {
        let queue = Arc::new(Queue::new(2));
        let warnings = Warnings::new(queue.clone());
        let device = DeviceId::parse("v-1", "device").unwrap();
        for alert in ["a-1", "a-2", "a-3"] {
            warnings.offer(&device, &alarm(alert));
        }
        assert_eq!(queue.take().await.command.alert_id, AlertId::new("a-2"));
        assert_eq!(queue.take().await.command.alert_id, AlertId::new("a-3"));
    }

    #[test]
    fn a_notice_has_the_warnings_fields_and_a_plain_text_only() {
        let command = alarm("alert-1");
        let notice = serde_json::to_value(DeviceNotice::of(&command)).unwrap();
        let mut keys: Vec<_> = notice.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["alert_id", "body", "kind", "level", "title", "ts"]);
        assert_eq!(notice["level"], "alarm");
        assert_eq!(notice["title"], "Alarm: go to a safe place");
    }
}
