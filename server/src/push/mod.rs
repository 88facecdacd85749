//! Web Push to dispatchers (docs/push.md): the console subscribes a
//! browser through the API ([`subscribe`]), and every P1 and P2 revision of
//! the subscriber's regions is pushed to it, encrypted for that browser and
//! signed with Vangnet's VAPID key, saying what and where without a
//! coordinate. Off unless a VAPID key is configured.

mod fanout;
mod notice;
mod queue;
mod resolver;
mod sender;
pub mod subscribe;
pub mod vapid;

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use self::subscribe::EndpointPolicy;
pub use self::vapid::{VapidError, VapidKey};
use crate::store::Store;

/// Pushes waiting to be sent before the oldest gives way.
const QUEUE: usize = 10_000;
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

/// Starts the log follower and the sender on `tasks`; they run until `stop`.
pub fn spawn<S: Store>(
    tasks: &TaskTracker,
    store: Arc<S>,
    settings: PushSettings,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let sender = sender::Sender::new(settings, store.clone())
        .map_err(|e| anyhow::anyhow!("building the push HTTP client: {e}"))?;
    let queue = Arc::new(queue::Queue::new(QUEUE));
    tasks.spawn(fanout::run(store, queue.clone(), stop.clone()));
    tasks.spawn(Arc::new(sender).run(queue, tasks.clone(), stop));
    Ok(())
}
