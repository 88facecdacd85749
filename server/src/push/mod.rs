//! Web Push to dispatchers (docs/push.md): the console subscribes a
//! browser through the API ([`subscribe`]), and every P1 and P2 revision of
//! the subscriber's regions is pushed to it, encrypted for that browser and
//! signed with Vangnet's VAPID key, saying what and where without a
//! coordinate. A device's phone may subscribe too (docs/app.md), and gets
//! that device's warnings ([`warning`]). Off unless a VAPID key is configured.

mod fanout;
mod notice;
mod queue;
mod resolver;
mod sender;
pub mod subscribe;
pub mod vapid;
pub mod warning;

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::queue::Queue;
use self::sender::Audience;
pub use self::subscribe::EndpointPolicy;
pub use self::vapid::{VapidError, VapidKey};
pub use self::warning::Warnings;
use crate::device_http::Credentials;
use crate::store::Store;

/// Pushes waiting to be sent before the oldest gives way.
const QUEUE: usize = 10_000;
/// Warnings to phones waiting, and their pushes, before the oldest gives way.
const WARNING_QUEUE: usize = 1_000;
/// Subscriptions one token holder may have.
pub const MAX_PER_HOLDER: usize = 10;

/// How Vangnet pushes, when it does.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// The key pushes are signed with.
    pub key: VapidKey,
    /// The operator's contact for push services: `mailto:` or `https:`.
    pub subject: String,
    /// Which endpoints may be pushed to.
    pub endpoints: EndpointPolicy,
    /// Subscriptions kept in all.
    pub max_subscriptions: NonZeroUsize,
}

/// Starts the log follower and the sender on `tasks`, and, when devices
/// have `credentials`, the pusher of their warnings with its own queue, so
/// that neither kind of push waits behind the other; they run until `stop`.
/// Returns the handle warnings are given to, when there is one.
pub fn spawn<S: Store>(
    tasks: &TaskTracker,
    store: Arc<S>,
    settings: PushSettings,
    credentials: Option<Arc<Credentials>>,
    stop: CancellationToken,
) -> anyhow::Result<Option<Warnings>> {
    let sender = sender::Sender::new(settings, store.clone())
        .map_err(|e| anyhow::anyhow!("building the push HTTP client: {e}"))?;
    let sender = Arc::new(sender);
    let queue = Arc::new(Queue::new(QUEUE));
    tasks.spawn(fanout::run(store.clone(), queue.clone(), stop.clone()));
    let dispatchers = sender
        .clone()
        .run(queue, Audience::Dispatcher, tasks.clone(), stop.clone());
    tasks.spawn(dispatchers);
    let Some(credentials) = credentials else {
        return Ok(None);
    };
    let (warnings, jobs) = (
        Arc::new(Queue::new(WARNING_QUEUE)),
        Arc::new(Queue::new(WARNING_QUEUE)),
    );
    tasks.spawn(warning::run(
        store,
        credentials,
        warnings.clone(),
        jobs.clone(),
        stop.clone(),
    ));
    tasks.spawn(sender.run(jobs, Audience::Device, tasks.clone(), stop));
    Ok(Some(Warnings::new(warnings)))
}
