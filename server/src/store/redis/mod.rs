//! The Redis store, on one Redis server (a primary, with replicas if wanted).
//! A commit is one Lua script; the indexes across partitions are written
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
//! | `P:{p:X}:state` | hash | `version`, then part name → bytes ([`StateParts`](crate::store::StateParts)) |
//! | `P:{p:X}:alerts` | hash | alert id → latest revision JSON |
//! | `P:{p:X}:timeline:{alert_id}` | list | timeline entry JSON, oldest first |
//! | `P:{p:X}:outbox` | hash | `{alert_id}/{revision}` → outbox entry JSON |
//! | `P:{p:X}:fixes:{device}` | list | fix JSON in arrival order |
//! | `P:{p:X}:history-devices` | set | devices with history in the partition |
//! | `P:events` | stream | field `body`: each committed revision JSON, in commit order |
//! | `P:{audit}:entries` | list | audit entry JSON, in chain order |
//! | `P:{audit}:head` | hash | `seq`, `hash` of the last audit entry, `event` last audited |
//! | `P:set-aside` | list | set-aside message JSON, newest first |
//! | `P:push-subscriptions` | hash | subscription id → push subscription JSON |
//!
//! `P:events` and `P:alert-times` are written by the commit script itself,
//! so an event or an alert's time exists exactly when its revision does.
//! `P:events` is capped with `MAXLEN ~` at [`events::EVENTS_MAX_LEN`], so a
//! client resuming from an older id misses events. They have no hash tag, so
//! Redis Cluster is not supported (nor does the store connect through a
//! cluster client): there they would be in another slot than the partition
//! and the commit script would fail with `CROSSSLOT`. A
//! partition's keys share the hash tag `{p:X}` all the same; on one server it
//! costs nothing.

mod audit_log;
mod events;
mod history;
mod history_listing;
mod indexes;
mod orders;
mod outbox;
mod partitions;
mod push;
mod set_aside;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError};
use url::Url;

use self::history_listing::HistoryListing;
use self::indexes::RepairSchedule;
use super::{PartitionKey, Store, StoreError};
use crate::audit_seal::SealKey;

/// Partitions read per round trip when scanning all of them.
const SCAN_BATCH: usize = 256;

/// The [`Store`] on one Redis server.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    /// For commits that carry no alert: location traffic queues here, so
    /// Redis interleaves it with alerts and reads on `conn` instead of
    /// putting them behind it.
    bulk: ConnectionManager,
    shared: Arc<Shared>,
    /// Seals what [`super::AuditLog::append_audit`] appends; Redis never sees it.
    seal_key: Option<SealKey>,
}

/// What every clone of one store shares.
struct Shared {
    /// `P`, the prefix of every key.
    prefix: String,
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

    /// Prepares a store on `url` with every key under `key_prefix`; connects
    /// on first use and reconnects by itself, so Redis need not be up yet.
    /// Must be called within a Tokio runtime.
    pub fn connect(url: &Url, key_prefix: &str) -> Result<Self, StoreError> {
        Self::connect_with_ca(url, key_prefix, None)
    }

    /// As [`Self::connect`], trusting for `rediss://` the CA certificates in
    /// `ca_pem` instead of the system's roots.
    pub fn connect_with_ca(
        url: &Url,
        key_prefix: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Unavailable(
                "the Redis store needs a Tokio runtime".into(),
            ));
        }
        let client = match ca_pem {
            Some(ca) if url.scheme() == "rediss" => Client::build_with_tls(
                url.as_str(),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.to_vec()),
                },
            ),
            _ => Client::open(url.as_str()),
        }
        .map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(unavailable)?;
        let bulk = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            conn,
            bulk,
            shared: Arc::new(Shared {
                prefix: key_prefix.to_owned(),
                known_partitions: Mutex::new(HashSet::new()),
                history_listing: Mutex::new(HistoryListing::new()),
                repair: Mutex::new(RepairSchedule::new()),
            }),
            seal_key: None,
        })
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

    /// Replaces `key` with the key of `partition` named by the pieces of `name`.
    fn write_key(&self, key: &mut String, partition: &str, name: &[&str]) {
        key.clear();
        for piece in [self.shared.prefix.as_str(), ":{p:", partition, "}:"]
            .into_iter()
            .chain(name.iter().copied())
        {
            key.push_str(piece);
        }
    }

    /// `P:{orders}`: the orders.
    fn orders_key(&self) -> String {
        format!("{}:{{orders}}", self.shared.prefix)
    }

    /// `P:{orders}:epoch`: the orders' epoch.
    fn epoch_key(&self) -> String {
        format!("{}:{{orders}}:epoch", self.shared.prefix)
    }

    /// `P:{audit}:name`: the audit chain's keys.
    fn audit_key(&self, name: &str) -> String {
        format!("{}:{{audit}}:{name}", self.shared.prefix)
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
