//! The Redis store, on one Redis server (a primary, with replicas if wanted)
//! or on a Redis Cluster. A commit is one Lua script; the indexes across partitions are written
//! after it and rebuilt from the partitions when lost ([`indexes`]). Each
//! concern has a module here, and its Lua scripts are in `scripts/`.
//!
//! Layout under the prefix `P`, with `X` a partition's [`PartitionKey`] display:
//!
//! | key | type | content |
//! |---|---|---|
//! | `P:{orders}` | hash | order id → order body JSON |
//! | `P:{orders}:epoch` | string | counter, incremented on every order change |
//! | `P:partitions` | set | every partition a commit was attempted on |
//! | `P:alert-partition` | hash | alert id → partition |
//! | `P:outbox` | sorted set | `["X","{alert_id}/{revision}"]`, scored by priority then age |
//! | `P:alert-times` | sorted set | `{alert_id}\0X`, scored by its latest revision's `updated_at` ms |
//! | `P:{p:X}:state` | hash | `version`, `committed_at` (ms of the last commit), then part name → bytes ([`StateParts`](crate::store::StateParts)) |
//! | `P:{p:X}:alerts` | hash | alert id → latest revision JSON |
//! | `P:{p:X}:timeline:{alert_id}` | list | timeline entry JSON, oldest first |
//! | `P:{p:X}:outbox` | hash | `{alert_id}/{revision}` → outbox entry JSON |
//! | `P:{p:X}:fixes:{device}` | list | fix JSON in arrival order |
//! | `P:{p:X}:history-devices` | set | devices with history in the partition |
//! | `P:events` | stream | field `body`: each committed timeline entry JSON (revision and act), in commit order |
//! | `P:{audit}:entries` | list | audit entry JSON, in chain order |
//! | `P:{audit}:head` | hash | `seq`, `hash` of the last audit entry, `event` last audited |
//! | `P:set-aside` | list | set-aside message JSON, newest first |
//! | `P:push-subscriptions` | hash | subscription id → push subscription JSON |
//!
//! `P:events` and `P:alert-times` are written by the commit script itself,
//! so an event or an alert's time exists exactly when its revision does.
//! `P:events` is capped with `MAXLEN ~` at [`events::EVENTS_MAX_LEN`], so a
//! client resuming from an older id misses events.
//!
//! On a Redis Cluster a script may only touch keys of one hash slot, so the
//! partitions are spread over [`shards::SHARDS`] shards, each with a hash tag
//! `T` of its own: a partition's keys become `P:{T}:p:X:…`, and each shard has
//! its own `P:{T}:events` and `P:{T}:alert-times`, which the readers merge
//! ([`shards`]). The audit chain moves into the orders' slot
//! (`P:{orders}:audit:entries`, `P:{orders}:audit:head`), so that an order
//! change and its audit entry are written by one script. The other keys
//! stand alone and are written outside scripts.

mod audit_log;
mod connection;
mod events;
mod history;
mod history_listing;
mod indexes;
mod orders;
mod outbox;
mod partitions;
mod push;
mod set_aside;
mod shards;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use redis::RedisError;

use self::connection::Connection;
pub use self::connection::RedisAddress;
use self::history_listing::HistoryListing;
use self::indexes::RepairSchedule;
use self::shards::Shards;
use super::{PartitionKey, Store, StoreError};
use crate::audit_seal::SealKey;

/// Partitions read per round trip when scanning all of them.
const SCAN_BATCH: usize = 256;

/// The [`Store`] on one Redis server or a Redis Cluster.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    /// For commits that carry no alert: location traffic queues here, so
    /// Redis interleaves it with alerts and reads on `conn` instead of
    /// putting them behind it.
    bulk: Connection,
    shared: Arc<Shared>,
    /// Seals what [`super::AuditLog::append_audit`] appends; Redis never sees it.
    seal_key: Option<SealKey>,
    /// How many replicas must hold a commit with an alert before it counts as done.
    wait_replicas: u32,
}

/// What every clone of one store shares.
struct Shared {
    /// `P`, the prefix of every key.
    prefix: String,
    /// Where partitions and their event logs live.
    shards: Shards,
    /// Partitions this process has put in `P:partitions`.
    known_partitions: Mutex<HashSet<PartitionKey>>,
    /// Devices this process has lately listed in their `history-devices`.
    history_listing: Mutex<HistoryListing>,
    /// When the indexes are rebuilt next.
    repair: Mutex<RepairSchedule>,
}

impl RedisStore {
    /// Whether Redis writes every commit to disk before it answers
    /// (`appendonly yes` with `appendfsync always`), so that a receipt sent
    /// after a commit survives a crash of Redis; `None` when Redis does not
    /// let its configuration be read.
    pub async fn fsyncs_every_commit(&self) -> Result<Option<bool>, StoreError> {
        let config: Result<HashMap<String, String>, RedisError> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("append*")
            .query_async(&mut self.conn.clone())
            .await;
        match config {
            Ok(config) => Ok(Some(
                config.get("appendonly").map(String::as_str) == Some("yes")
                    && config.get("appendfsync").map(String::as_str) == Some("always"),
            )),
            Err(err) if !(err.is_io_error() || err.is_timeout() || err.is_connection_dropped()) => {
                Ok(None)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Prepares a store at `address` with every key under `key_prefix`,
    /// trusting for TLS the CA certificates in `ca_pem` instead of the
    /// system's roots; connects on first use and reconnects by itself, so
    /// Redis need not be up yet. Must be called within a Tokio runtime.
    pub fn connect(
        address: &RedisAddress,
        key_prefix: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Unavailable(
                "the Redis store needs a Tokio runtime".into(),
            ));
        }
        let conn = Connection::open(address, ca_pem).map_err(unavailable)?;
        let bulk = Connection::open(address, ca_pem).map_err(unavailable)?;
        let shards = if conn.is_cluster() {
            Shards::spread()
        } else {
            Shards::One
        };
        Ok(Self {
            conn,
            bulk,
            shared: Arc::new(Shared {
                prefix: key_prefix.to_owned(),
                shards,
                known_partitions: Mutex::new(HashSet::new()),
                history_listing: Mutex::new(HistoryListing::new()),
                repair: Mutex::new(RepairSchedule::new()),
            }),
            seal_key: None,
            wait_replicas: 0,
        })
    }

    /// Makes a commit that carries an alert wait until `replicas` replicas
    /// of its primary hold it (`WAIT`), so that a receipt sent after it
    /// survives the loss of that primary; a commit they do not confirm in
    /// time fails as unavailable.
    pub fn waiting_for_replicas(mut self, replicas: u32) -> Self {
        self.wait_replicas = replicas;
        self
    }

    /// `P:{name}`: a key outside every partition.
    fn global(&self, name: &str) -> String {
        format!("{}:{name}", self.shared.prefix)
    }

    /// `P:{p:partition}:{name}`: a key of one partition.
    fn key(&self, partition: &str, name: &str) -> String {
        let mut key = String::new();
        self.write_key(&mut key, partition, &[name]);
        key
    }

    /// Replaces `key` with the key of `partition` named by the pieces of
    /// `name`: `P:{p:X}:name` on one server, `P:{T}:p:X:name` on a cluster.
    fn write_key(&self, key: &mut String, partition: &str, name: &[&str]) {
        key.clear();
        key.push_str(&self.shared.prefix);
        match &self.shared.shards {
            Shards::One => {
                for piece in [":{p:", partition, "}:"] {
                    key.push_str(piece);
                }
            }
            Shards::Spread(tags) => {
                for piece in [
                    ":{",
                    &tags[self.shared.shards.of(partition)],
                    "}:p:",
                    partition,
                    ":",
                ] {
                    key.push_str(piece);
                }
            }
        }
        for piece in name {
            key.push_str(piece);
        }
    }

    /// `P:name` on one server, `P:{T}:name` of shard `shard` on a cluster:
    /// the event log and the time index, one per shard.
    fn shard_key(&self, shard: usize, name: &str) -> String {
        match &self.shared.shards {
            Shards::One => self.global(name),
            Shards::Spread(tags) => format!("{}:{{{}}}:{name}", self.shared.prefix, tags[shard]),
        }
    }

    /// [`Self::shard_key`] of the shard that holds `partition`.
    fn partition_shard_key(&self, partition: &str, name: &str) -> String {
        self.shard_key(self.shared.shards.of(partition), name)
    }

    /// `P:{orders}`: the orders.
    fn orders_key(&self) -> String {
        format!("{}:{{orders}}", self.shared.prefix)
    }

    /// `P:{orders}:epoch`: the orders' epoch.
    fn epoch_key(&self) -> String {
        format!("{}:{{orders}}:epoch", self.shared.prefix)
    }

    /// The audit chain's keys: `P:{audit}:name` on one server, and on a
    /// cluster `P:{orders}:audit:name`, in the orders' slot, so that one
    /// script writes an order change and its audit entry.
    fn audit_key(&self, name: &str) -> String {
        match &self.shared.shards {
            Shards::One => format!("{}:{{audit}}:{name}", self.shared.prefix),
            Shards::Spread(_) => format!("{}:{{orders}}:audit:{name}", self.shared.prefix),
        }
    }
}

impl Store for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        redis::cmd("PING")
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }
}

/// A Redis failure: the store cannot serve the call.
fn unavailable(err: RedisError) -> StoreError {
    StoreError::Unavailable(err.to_string())
}
