//! The engine, one protection order at a time.
//!
//! Each partition (an order, or the devices in no order) has an [`Engine`]
//! cached in memory and a durable copy of its state in the [`PartitionStore`]. A step
//! runs the pure engine on the cached state, then commits the new state, the
//! alert revisions and the history in one atomic, versioned write. When
//! another instance committed first, the step is run again on the fresh
//! state, so two instances never open two alerts for one episode.

mod state;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use tokio::sync::Notify;

use vangnet_engine::{Effect, Engine, EngineConfig};
use vangnet_proto::order::OrderBody;
use vangnet_proto::{Ack, Command, DeviceId, DispatchBody, TimestampMs};

use self::state::PartitionState;
pub(crate) use self::state::is_device_part;
use crate::store::{
    Act, Commit, CommitOutcome, HistoryEntry, PartitionKey, PartitionStore, StoreError,
    TimelineEntry,
};

/// A message for a device, to publish once the step that made it is committed.
#[derive(Debug, Clone, PartialEq)]
pub enum Downlink {
    /// Receipt of an alarm.
    Ack {
        /// The device that raised it.
        device: DeviceId,
        /// The receipt.
        ack: Ack,
    },
    /// A warning.
    Command {
        /// The receiving device.
        device: DeviceId,
        /// The warning.
        command: Command,
    },
}

/// What a committed step produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages for devices.
    pub downlink: Vec<Downlink>,
    /// Alert revisions now in the store and its outbox.
    pub revisions: Vec<DispatchBody>,
}

/// A cached engine and the store version it reflects.
struct Slot {
    engine: Engine,
    state: PartitionState,
    /// The order body the engine was last found to run, so that the same
    /// body handed in again is recognised by pointer, without comparing it.
    running: Option<Arc<OrderBody>>,
    /// `None` when the cache must be reloaded before the next step.
    version: Option<u64>,
}

/// What a step does to the engine; it may run more than once (after a conflict).
pub trait StepFn<E>: FnMut(&mut Engine) -> Result<Vec<Effect>, E> {}
impl<E, F: FnMut(&mut Engine) -> Result<Vec<Effect>, E>> StepFn<E> for F {}

/// Why a step did not commit.
#[derive(Debug, thiserror::Error)]
pub enum StepError<E> {
    /// The engine refused the step (e.g. an invalid alert transition); nothing was stored.
    #[error(transparent)]
    Refused(E),
    /// The store failed; nothing was stored, the caller retries.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A partition's place in the cache; a step holds it while it runs.
type SharedSlot = Arc<tokio::sync::Mutex<Option<Slot>>>;

/// The engines of recently used partitions, over one store: a partition
/// not cached is loaded from the store, so the bound changes memory, never
/// behaviour.
pub struct Partitions<S> {
    store: Arc<S>,
    config: EngineConfig,
    slots: Mutex<LruCache<PartitionKey, SharedSlot>>,
    cached_at_most: NonZeroUsize,
    committed: Arc<Notify>,
    commit_seconds: metrics::Histogram,
    conflicts: metrics::Counter,
}

impl<S: PartitionStore> Partitions<S> {
    /// Partitions over `store`, with the detection `config`, keeping the
    /// engines of at most `cached_at_most` partitions in memory.
    pub fn new(store: Arc<S>, config: EngineConfig, cached_at_most: NonZeroUsize) -> Self {
        Self {
            store,
            config,
            slots: Mutex::new(LruCache::unbounded()),
            cached_at_most,
            committed: Arc::new(Notify::new()),
            commit_seconds: metrics::histogram!("vangnet_store_commit_seconds"),
            conflicts: metrics::counter!("vangnet_commit_conflicts_total"),
        }
    }

    /// Signalled whenever a step commits alert revisions, so dispatch starts at once.
    pub fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    /// The store the partitions commit to.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The partition's slot, cached from now on; the least recently used
    /// slots no step holds leave the cache beyond its bound.
    fn slot(&self, key: &PartitionKey) -> SharedSlot {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        let slot = SharedSlot::default();
        slots.put(key.clone(), slot.clone());
        while slots.len() > self.cached_at_most.get() {
            let idle = slots
                .iter()
                .rev()
                .find(|(_, slot)| Arc::strong_count(slot) == 1)
                .map(|(key, _)| key.clone());
            match idle {
                Some(key) => {
                    slots.pop(&key);
                }
                None => break,
            }
        }
        metrics::gauge!("vangnet_cached_partitions").set(slots.len() as f64);
        slot
    }

    /// Runs `step` on the partition at server time `now` and commits what it
    /// changed; `act` is recorded with the revisions a person's act made.
    /// `order` is the order's current body (`None` for the unassigned partition).
    pub async fn step<E>(
        &self,
        key: &PartitionKey,
        order: Option<&Arc<OrderBody>>,
        now: TimestampMs,
        act: Option<&Act>,
        mut step: impl StepFn<E>,
    ) -> Result<Outcome, StepError<E>> {
        let slot = self.slot(key);
        let mut slot = slot.lock().await;
        loop {
            let (cached, order_changed) = self.current(&mut slot, key, order, now).await?;
            // Until the step commits, the cache counts as stale: a step that
            // fails or panics half-way leaves it to be reloaded.
            let version = cached.version.take();
            let effects = match step(&mut cached.engine) {
                Ok(effects) => effects,
                Err(refused) => return Err(StepError::Refused(refused)),
            };
            if effects.is_empty() && !order_changed {
                cached.version = version;
                return Ok(Outcome::default());
            }
            let (commit, outcome) = cached.collect(effects, now, act, order_changed)?;
            let expected = version.unwrap_or(0);
            let started = std::time::Instant::now();
            let committed = self.store.commit(key, expected, commit).await;
            self.commit_seconds.record(started.elapsed().as_secs_f64());
            match committed {
                Ok(CommitOutcome::Committed(version)) => {
                    cached.version = Some(version);
                    if !outcome.revisions.is_empty() {
                        self.committed.notify_one();
                    }
                    return Ok(outcome);
                }
                Ok(CommitOutcome::Conflict) => self.conflicts.increment(1),
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Reads the partition's cached engine (loading it if needed) and commits
    /// nothing. An `order` newer than the cached one is applied to the cache
    /// for this read only; the next step reloads and commits it.
    pub async fn view<T>(
        &self,
        key: &PartitionKey,
        order: Option<&Arc<OrderBody>>,
        now: TimestampMs,
        read: impl FnOnce(&Engine) -> T,
    ) -> Result<T, StoreError> {
        let slot = self.slot(key);
        let mut slot = slot.lock().await;
        let (cached, order_changed) = self.current(&mut slot, key, order, now).await?;
        let value = read(&cached.engine);
        if order_changed {
            cached.version = None;
        }
        Ok(value)
    }

    /// The slot's engine, loaded from the store unless a valid one is cached,
    /// and brought to `order` when that differs from its own; also whether it was.
    async fn current<'s>(
        &self,
        slot: &'s mut Option<Slot>,
        key: &PartitionKey,
        order: Option<&Arc<OrderBody>>,
        now: TimestampMs,
    ) -> Result<(&'s mut Slot, bool), StoreError> {
        let valid = match slot.take().filter(|cached| cached.version.is_some()) {
            Some(cached) => cached,
            None => self.load(key, now).await?,
        };
        let cached = slot.insert(valid);
        let order_changed = match order {
            Some(body) if !cached.runs(body) => {
                sync_order(cached, body, now);
                true
            }
            _ => false,
        };
        Ok((cached, order_changed))
    }

    async fn load(&self, key: &PartitionKey, now: TimestampMs) -> Result<Slot, StoreError> {
        let stored = self.store.load(key).await?;
        let (state, version) = match stored {
            Some(stored) => {
                let state = PartitionState::from_parts(stored.value)
                    .map_err(|e| StoreError::Corrupt(format!("partition {key}: {e}")))?;
                (state, stored.version)
            }
            None => (PartitionState::default(), 0),
        };
        let mut engine = Engine::new(self.config.clone());
        if let Some(body) = &state.order {
            engine
                .put_order(body, now)
                .map_err(|e| StoreError::Corrupt(format!("partition {key}: stored order: {e}")))?;
            if let (Some(id), Some(order_state)) = (&body.id, &state.order_state) {
                engine
                    .restore_order_state(id, order_state.clone())
                    .map_err(|e| StoreError::Corrupt(format!("partition {key}: {e}")))?;
            }
        }
        for (device, device_state) in &state.devices {
            engine.restore_device_state(device.clone(), device_state.as_ref().clone());
        }
        Ok(Slot {
            engine,
            state,
            running: None,
            version: Some(version),
        })
    }
}

/// Brings the engine to the order's current body, keeping open alerts and levels.
fn sync_order(slot: &mut Slot, body: &Arc<OrderBody>, now: TimestampMs) {
    match slot.engine.put_order(body, now) {
        Ok(_) => {
            slot.state.order = Some(OrderBody::clone(body));
            slot.running = Some(body.clone());
        }
        Err(err) => {
            tracing::error!(%err, "a stored order no longer validates; keeping the previous one")
        }
    }
}

impl Slot {
    /// Whether the engine runs `body` already.
    fn runs(&mut self, body: &Arc<OrderBody>) -> bool {
        if self
            .running
            .as_ref()
            .is_some_and(|running| Arc::ptr_eq(running, body))
        {
            return true;
        }
        if self.state.order.as_ref() != Some(&**body) {
            return false;
        }
        self.running = Some(body.clone());
        true
    }

    /// Turns a step's effects into one commit and the messages to send after it.
    fn collect(
        &mut self,
        effects: Vec<Effect>,
        now: TimestampMs,
        act: Option<&Act>,
        order_changed: bool,
    ) -> Result<(Commit, Outcome), StoreError> {
        let mut commit = Commit {
            at: now,
            ..Commit::default()
        };
        let mut outcome = Outcome::default();
        let mut touched = Vec::new();
        for effect in effects {
            match effect {
                Effect::Dispatch(body) => {
                    outcome.revisions.push((*body).clone());
                    commit.revisions.push(TimelineEntry {
                        revision: *body,
                        act: act.cloned(),
                    });
                }
                Effect::History { device, fix } => {
                    touched.push(device.clone());
                    commit.history.push(HistoryEntry { device, fix });
                }
                Effect::Ack { device, ack } => {
                    touched.push(device.clone());
                    outcome.downlink.push(Downlink::Ack { device, ack });
                }
                Effect::Command { device, command } => {
                    outcome.downlink.push(Downlink::Command { device, command });
                }
                Effect::Persist(vangnet_engine::StateKey::Device(device)) => touched.push(device),
                Effect::Persist(vangnet_engine::StateKey::Order(_)) => {}
            }
        }
        commit.parts = self.state.update(&self.engine, touched, order_changed)?;
        Ok((commit, outcome))
    }
}

#[cfg(test)]
mod tests {
    use vangnet_proto::OrderId;
    use vangnet_proto::order::ProximityRule;

    use super::*;
    use crate::store::EmbeddedStore;

    const NOW: TimestampMs = TimestampMs(1_764_331_200_000);

    /// The order of the state tests with its alarm distance set to `alarm_m`.
    fn body(alarm_m: f64) -> Arc<OrderBody> {
        let mut body = state::tests::body();
        body.proximity = Some(ProximityRule {
            alarm_m,
            prealarm_m: 1_000.0,
        });
        Arc::new(body)
    }

    /// Steps the partition with `body` and nothing for the engine to do; the stored version after.
    async fn step_with(partitions: &Partitions<EmbeddedStore>, body: &Arc<OrderBody>) -> u64 {
        let key = PartitionKey::Order(OrderId::new("order-17"));
        partitions
            .step::<std::convert::Infallible>(&key, Some(body), NOW, None, |_| Ok(Vec::new()))
            .await
            .unwrap();
        partitions
            .store()
            .load(&key)
            .await
            .unwrap()
            .unwrap()
            .version
    }

    fn partitions(dir: &tempfile::TempDir) -> Partitions<EmbeddedStore> {
        let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
        Partitions::new(Arc::new(store), EngineConfig::default(), CACHE)
    }

    const CACHE: NonZeroUsize = NonZeroUsize::new(1_000).unwrap();

    #[tokio::test]
    async fn an_equal_order_body_handed_in_again_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let partitions = partitions(&dir);
        let first = step_with(&partitions, &body(500.0)).await;
        assert_eq!(step_with(&partitions, &body(500.0)).await, first);
    }

    #[tokio::test]
    async fn a_changed_order_body_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let partitions = partitions(&dir);
        let first = step_with(&partitions, &body(500.0)).await;
        assert_eq!(step_with(&partitions, &body(250.0)).await, first + 1);
    }

    #[tokio::test]
    async fn a_step_that_panics_half_way_leaves_the_partition_to_be_reloaded() {
        use futures_util::FutureExt;

        let dir = tempfile::tempdir().unwrap();
        let partitions = partitions(&dir);
        let body = body(500.0);
        step_with(&partitions, &body).await;
        let key = PartitionKey::Order(OrderId::new("order-17"));
        let victim = DeviceId::parse("victim-1", "device").unwrap();
        let payload = br#"{"seq":1,"ts":1764331200000,"kind":"panic"}"#;
        let panic =
            vangnet_proto::parse_uplink(vangnet_proto::Channel::Alarm, payload, &victim, NOW)
                .unwrap();

        let panicked = std::panic::AssertUnwindSafe(partitions.step::<std::convert::Infallible>(
            &key,
            Some(&body),
            NOW,
            None,
            |engine| {
                engine.handle(&victim, vangnet_engine::Event::from(panic.clone()), NOW);
                panic!("a bug half-way through a step");
            },
        ))
        .catch_unwind()
        .await;

        assert!(panicked.is_err());
        let alerts = partitions
            .view(&key, Some(&body), NOW, |engine| engine.alerts().count())
            .await
            .unwrap();
        assert_eq!(
            alerts, 0,
            "the half-done step's alert is not in the partition"
        );
    }

    /// Order `n` of a fleet: its own victim and perpetrator.
    fn fleet_order(n: usize) -> Arc<OrderBody> {
        let mut body = state::tests::body();
        body.id = Some(OrderId::new(format!("order-{n}")));
        body.victim_devices = vec![DeviceId::parse(&format!("victim-{n}"), "d").unwrap()];
        body.perpetrator_devices = vec![DeviceId::parse(&format!("perp-{n}"), "d").unwrap()];
        Arc::new(body)
    }

    /// Every order's perpetrator walks from 2 km north of its victim to
    /// 100 m, order after order, one fix each per round; the revisions made.
    async fn approaches(partitions: &Partitions<EmbeddedStore>, orders: usize) -> Vec<String> {
        use vangnet_proto::{Fix, Latitude, Longitude, Meters};
        let mut revisions = Vec::new();
        for round in 0..20_u64 {
            for n in 0..orders {
                let body = fleet_order(n);
                let key = PartitionKey::Order(body.id.clone().unwrap());
                let now = TimestampMs(NOW.millis() + round * 30_000);
                let fix = |seq: u64, lat: f64| {
                    Fix::new(
                        seq,
                        now,
                        Latitude::new(lat).unwrap(),
                        Longitude::new(5.12).unwrap(),
                        Meters::new(10.0).unwrap(),
                    )
                };
                let victim = body.victim_devices[0].clone();
                let perpetrator = body.perpetrator_devices[0].clone();
                let north = 0.018 - 0.0009 * round as f64;
                let outcome = partitions
                    .step::<std::convert::Infallible>(&key, Some(&body), now, None, |engine| {
                        let mut effects = engine.handle(
                            &victim,
                            vangnet_engine::Event::Fixes(vec![fix(round, 52.09)]),
                            now,
                        );
                        effects.extend(engine.handle(
                            &perpetrator,
                            vangnet_engine::Event::Fixes(vec![fix(round, 52.09 + north)]),
                            now,
                        ));
                        Ok(effects)
                    })
                    .await
                    .unwrap();
                revisions.extend(outcome.revisions.iter().map(|r| {
                    format!(
                        "{n} {:?} {:?} r{} {:?}",
                        r.kind, r.priority, r.revision, r.status
                    )
                }));
            }
        }
        revisions
    }

    #[tokio::test]
    async fn a_cache_of_ten_partitions_gives_the_same_alerts_as_one_that_holds_all() {
        let (all, few) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let open = |dir: &tempfile::TempDir, cache: usize| {
            let store = EmbeddedStore::open(&dir.path().join("vangnet.redb")).unwrap();
            let cache = NonZeroUsize::new(cache).unwrap();
            Partitions::new(Arc::new(store), EngineConfig::default(), cache)
        };
        let (all, few) = (open(&all, 1_000), open(&few, 10));

        let expected = approaches(&all, 15).await;
        let evicting = approaches(&few, 15).await;

        assert!(
            expected.iter().any(|r| r.contains("ProximityAlarm")),
            "{expected:?}"
        );
        assert_eq!(evicting, expected);
        assert!(few.slots.lock().unwrap().len() <= 10);
    }
}
