//! The Redis store, on one Redis server (a primary, with replicas if wanted).
//! A commit is one Lua script. The cross-partition indexes
//! (alert to partition, the outbox queue) are written right after that script
//! and rebuilt from the partitions before the first read of an index (and the
//! outbox index every minute), so a crash between the two steps loses nothing.
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
//! | `P:{p:X}:state` | hash | `version`, then part name → bytes ([`StateParts`]) |
//! | `P:{p:X}:alerts` | hash | alert id → latest revision JSON |
//! | `P:{p:X}:timeline:{alert_id}` | list | timeline entry JSON, oldest first |
//! | `P:{p:X}:outbox` | hash | `{alert_id}/{revision}` → outbox entry JSON |
//! | `P:{p:X}:fixes:{device}` | list | fix JSON in arrival order |
//! | `P:{p:X}:history-devices` | set | devices with history in the partition |
//! | `P:events` | stream | field `body`: each committed revision JSON, in commit order |
//! | `P:{audit}:entries` | list | audit entry JSON, in chain order |
//! | `P:{audit}:head` | hash | `seq`, `hash` of the last audit entry, `event` last audited |
//!
//! `P:events` is written by the commit script itself, so an event exists
//! exactly when its revision does; it is capped with `MAXLEN ~` at
//! [`EVENTS_MAX_LEN`], so a client resuming from an older id misses events.
//! It has no hash tag, so Redis Cluster is not supported: there it would be in
//! another slot than the partition and the commit script would fail with
//! `CROSSSLOT`. A partition's keys share the hash tag `{p:X}` all the same;
//! on one server it costs nothing.
//!
//! A device's history is a list because appending to one costs Redis a
//! fraction of a sorted-set insert and of its memory. Reads sort it by `ts`
//! and drop repeats (a fix deduplication no longer remembers is appended
//! again); the trim removes old fixes from its head, so a fix that arrived
//! after later ones of its device goes with the first of those that follow it.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Cmd, ErrorKind, RedisError, RedisResult, RedisWrite, Script, ServerErrorKind};
use url::Url;
use vangnet_proto::{AlertId, DeviceId, DispatchBody, Fix, OrderId, Priority, TimestampMs};

use super::outbox::{PRIORITIES, rank};
use super::{
    AuditHead, AuditLog, Commit, CommitOutcome, EventId, EventLog, History, OrderChange,
    OrderStore, OrderWrite, Outbox, OutboxEntry, PartitionKey, PartitionStore, SET_ASIDE_KEPT,
    SetAside, SetAsideLog, StateParts, Store, StoreError, StoredAlert, StoredOrder, TimelineEntry,
    Versioned, decode, encode,
};
use crate::audit_chain::{Entry as AuditEntry, GENESIS, Link, Run as AuditRun};

mod history_listing;

use history_listing::HistoryListing;

/// How often the outbox index is rebuilt, to pick up a step another instance left half done.
const REPAIR_INTERVAL: Duration = Duration::from_secs(60);
/// Partitions read per round trip when scanning all of them.
const SCAN_BATCH: usize = 256;
/// Outbox scores are `rank * PRIORITY_SPAN + enqueued_at`, so P1 sorts before P2 before P3.
const PRIORITY_SPAN: u64 = 10_000_000_000_000;
/// About how many events `P:events` keeps (`XADD MAXLEN ~`).
const EVENTS_MAX_LEN: u64 = 100_000;

/// KEYS: state, history-devices, one fixes list per fix, then only with
/// revisions: alerts, outbox, the event stream and one timeline per revision.
/// ARGV: expected version, #parts, #fixes, per part (name, bytes), per fix
/// (device, fix, '1' to list the device in history-devices or ''), then only
/// with revisions: the events' max length and per revision (alert id,
/// current, timeline entry, outbox key, outbox entry). A location commit thus
/// passes Redis no key or argument it does not use. Returns the new version,
/// or -1 on a conflict.
const COMMIT_LUA: &str = r"
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then
  return -1
end
local parts = tonumber(ARGV[2])
local fixes = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'version', version + 1, unpack(ARGV, 4, 3 + 2 * parts))
local arg = 4 + 2 * parts
for i = 1, fixes do
  if ARGV[arg + 2] == '1' then
    redis.call('SADD', KEYS[2], ARGV[arg])
  end
  redis.call('RPUSH', KEYS[2 + i], ARGV[arg + 1])
  arg = arg + 3
end
if arg <= #ARGV then
  local alerts, outbox, events = KEYS[3 + fixes], KEYS[4 + fixes], KEYS[5 + fixes]
  local max_len = ARGV[arg]
  local timeline = 6 + fixes
  for revision = arg + 1, #ARGV, 5 do
    redis.call('HSET', alerts, ARGV[revision], ARGV[revision + 1])
    redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'body', ARGV[revision + 1])
    redis.call('RPUSH', KEYS[timeline], ARGV[revision + 2])
    redis.call('HSET', outbox, ARGV[revision + 3], ARGV[revision + 4])
    timeline = timeline + 1
  end
end
return version + 1
";

/// KEYS: history-devices, then per device its fixes list. ARGV: before, then
/// each device. Takes fixes older than `before` from the head of each list,
/// 100 at a time. Returns how many went.
const TRIM_LUA: &str = r"
local before = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV do
  local fixes = KEYS[i]
  repeat
    local head = redis.call('LRANGE', fixes, 0, 99)
    local old = 0
    for _, fix in ipairs(head) do
      if cjson.decode(fix).ts >= before then
        break
      end
      old = old + 1
    end
    if old > 0 then
      redis.call('LTRIM', fixes, old, -1)
      removed = removed + old
    end
  until old < 100
  if redis.call('LLEN', fixes) == 0 then
    redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return removed
";

/// KEYS: orders, epoch. ARGV: id, body, expected epoch, `create` or
/// `replace`. Returns 1 when written, 0 when creating an id that exists, -1
/// when the epoch moved.
const WRITE_ORDER_LUA: &str = r"
if ARGV[4] == 'create' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[3] then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
return 1
";

/// KEYS: orders, epoch. ARGV: id. Returns 1 when deleted.
const DELETE_ORDER_LUA: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCR', KEYS[2])
  return 1
end
return 0
";

/// KEYS: audit head, audit entries. ARGV: expected seq, expected hash,
/// genesis hash, the last entry's seq and hash, event id ('' for none), then
/// each entry's JSON. Returns 1 when appended, 0 when the head moved.
const APPEND_AUDIT_LUA: &str = r"
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local hash = redis.call('HGET', KEYS[1], 'hash') or ARGV[3]
if seq ~= tonumber(ARGV[1]) or hash ~= ARGV[2] then
  return 0
end
if #ARGV > 6 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 7))
end
redis.call('HSET', KEYS[1], 'seq', ARGV[4], 'hash', ARGV[5])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'event', ARGV[6])
end
return 1
";

/// The [`Store`] on one Redis server.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    /// For commits that carry no alert: location traffic queues here, so
    /// Redis interleaves it with alerts and reads on `conn` instead of
    /// putting them behind it.
    bulk: ConnectionManager,
    shared: Arc<Shared>,
}

struct Shared {
    prefix: String,
    commit: Script,
    trim: Script,
    write_order: Script,
    delete_order: Script,
    append_audit: Script,
    known_partitions: Mutex<HashSet<PartitionKey>>,
    history_listing: Mutex<HistoryListing>,
    repair: Mutex<RepairSchedule>,
}

struct RepairSchedule {
    next: Instant,
    alerts_indexed: bool,
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
                commit: Script::new(COMMIT_LUA),
                trim: Script::new(TRIM_LUA),
                write_order: Script::new(WRITE_ORDER_LUA),
                delete_order: Script::new(DELETE_ORDER_LUA),
                append_audit: Script::new(APPEND_AUDIT_LUA),
                known_partitions: Mutex::new(HashSet::new()),
                history_listing: Mutex::new(HistoryListing::new()),
                repair: Mutex::new(RepairSchedule {
                    next: Instant::now(),
                    alerts_indexed: false,
                }),
            }),
        })
    }

    /// Rebuilds the outbox index (and with `alerts`, the alert index) from the
    /// partitions; idempotent.
    async fn repair(&self, alerts: bool) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.global("partitions"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        names.sort();
        for chunk in names.chunks(SCAN_BATCH) {
            let mut read = redis::pipe();
            for name in chunk {
                read.cmd("HVALS").arg(self.key(name, "outbox"));
                if alerts {
                    read.cmd("HKEYS").arg(self.key(name, "alerts"));
                }
            }
            let replies: Vec<Vec<String>> =
                read.query_async(&mut conn).await.map_err(unavailable)?;
            let mut replies = replies.into_iter();
            let mut write = redis::pipe();
            for name in chunk {
                for json in replies.next().unwrap_or_default() {
                    match decode::<OutboxEntry>(json.as_bytes()) {
                        Ok(entry) => {
                            write
                                .cmd("ZADD")
                                .arg(self.global("outbox"))
                                .arg(outbox_score(&entry))
                                .arg(outbox_member(name, &entry.key())?)
                                .ignore();
                        }
                        Err(err) => tracing::error!("skipping an outbox entry of {name}: {err}"),
                    }
                }
                if alerts {
                    for id in replies.next().unwrap_or_default() {
                        write
                            .cmd("HSET")
                            .arg(self.global("alert-partition"))
                            .arg(id)
                            .arg(name)
                            .ignore();
                    }
                }
            }
            if !write.is_empty() {
                write.exec_async(&mut conn).await.map_err(unavailable)?;
            }
        }
        Ok(())
    }

    /// Rebuilds the indexes when due: first use, every minute, after a failed index write.
    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let alerts = {
            let mut schedule = self.schedule();
            let now = Instant::now();
            if now < schedule.next {
                return Ok(());
            }
            schedule.next = now + REPAIR_INTERVAL;
            !schedule.alerts_indexed
        };
        match self.repair(alerts).await {
            Ok(()) => {
                if alerts {
                    self.schedule().alerts_indexed = true;
                }
                Ok(())
            }
            Err(err) => {
                self.schedule().next = Instant::now();
                Err(err)
            }
        }
    }

    /// Makes the next index read rebuild both indexes first.
    fn schedule_full_repair(&self) {
        let mut schedule = self.schedule();
        schedule.next = Instant::now();
        schedule.alerts_indexed = false;
    }

    fn listing(&self) -> MutexGuard<'_, HistoryListing> {
        self.shared
            .history_listing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn schedule(&self) -> MutexGuard<'_, RepairSchedule> {
        self.shared
            .repair
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the partition to `P:partitions` once per process, before its first commit.
    async fn remember_partition(&self, partition: &PartitionKey) -> Result<(), StoreError> {
        let known = self
            .shared
            .known_partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(partition);
        if !known {
            redis::cmd("SADD")
                .arg(self.global("partitions"))
                .arg(partition.to_string())
                .exec_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            self.shared
                .known_partitions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(partition.clone());
        }
        Ok(())
    }

    /// Writes the cross-partition index entries of committed revisions.
    async fn index_revisions(
        &self,
        partition: &str,
        entries: &[OutboxEntry],
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for entry in entries {
            pipe.cmd("HSET")
                .arg(self.global("alert-partition"))
                .arg(entry.body.alert_id.as_str())
                .arg(partition)
                .ignore();
            pipe.cmd("ZADD")
                .arg(self.global("outbox"))
                .arg(outbox_score(entry))
                .arg(outbox_member(partition, &entry.key())?)
                .ignore();
        }
        pipe.exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
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

    /// The commit script's `EVALSHA` (see [`COMMIT_LUA`]), written straight
    /// into one command buffer: a location commit is most of what Vangnet
    /// sends Redis, so it builds no string it can write in place.
    fn commit_cmd(
        &self,
        partition: &str,
        expected: u64,
        commit: &Commit,
        to_list: &[bool],
        outbox: &[OutboxEntry],
    ) -> Result<Cmd, StoreError> {
        let revisions = !commit.revisions.is_empty();
        let keys = 2 + commit.history.len() + if revisions { 3 + outbox.len() } else { 0 };
        let key_len = self.shared.prefix.len() + partition.len() + 64;
        let args = 3 + keys + 3 + 2 * commit.parts.len() + 3 * commit.history.len();
        let bytes = 128
            + keys * key_len
            + commit.parts.values().map(Vec::len).sum::<usize>()
            + 256 * commit.history.len();
        let mut cmd = Cmd::with_capacity(args, bytes);
        cmd.arg("EVALSHA")
            .arg(self.shared.commit.get_hash())
            .arg(keys);
        let mut key = String::with_capacity(key_len);
        let mut partition_key = |cmd: &mut Cmd, name: &[&str]| {
            self.write_key(&mut key, partition, name);
            cmd.arg(key.as_str());
        };
        partition_key(&mut cmd, &["state"]);
        partition_key(&mut cmd, &["history-devices"]);
        for entry in &commit.history {
            partition_key(&mut cmd, &["fixes:", entry.device.as_str()]);
        }
        if revisions {
            partition_key(&mut cmd, &["alerts"]);
            partition_key(&mut cmd, &["outbox"]);
            cmd.arg(self.global("events"));
            for entry in &commit.revisions {
                partition_key(&mut cmd, &["timeline:", entry.revision.alert_id.as_str()]);
            }
        }
        cmd.arg(expected)
            .arg(commit.parts.len())
            .arg(commit.history.len());
        for (name, bytes) in &commit.parts {
            cmd.arg(name.as_str()).arg(bytes.as_slice());
        }
        for (entry, list) in commit.history.iter().zip(to_list) {
            cmd.arg(entry.device.as_str());
            serde_json::to_writer(cmd.writer_for_next_arg(), &entry.fix)
                .map_err(|err| StoreError::Corrupt(err.to_string()))?;
            cmd.arg(if *list { "1" } else { "" });
        }
        if revisions {
            cmd.arg(EVENTS_MAX_LEN);
            for (entry, queued) in commit.revisions.iter().zip(outbox) {
                cmd.arg(entry.revision.alert_id.as_str())
                    .arg(encode(&entry.revision)?)
                    .arg(encode(entry)?)
                    .arg(queued.key())
                    .arg(encode(queued)?);
            }
        }
        Ok(cmd)
    }

    /// Runs the commit script's `cmd`, loading the script first if Redis lost it.
    async fn eval_commit(&self, cmd: &Cmd, conn: &mut ConnectionManager) -> RedisResult<i64> {
        match cmd.query_async(conn).await {
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.shared.commit.load_async(conn).await?;
                cmd.query_async(conn).await
            }
            result => result,
        }
    }

    fn orders_key(&self) -> String {
        format!("{}:{{orders}}", self.shared.prefix)
    }

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

impl OrderStore for RedisStore {
    async fn write_order(
        &self,
        order: &StoredOrder,
        change: OrderChange,
        epoch: u64,
    ) -> Result<OrderWrite, StoreError> {
        let change = match change {
            OrderChange::Create => "create",
            OrderChange::Replace => "replace",
        };
        let written: i64 = self
            .shared
            .write_order
            .key(self.orders_key())
            .key(self.epoch_key())
            .arg(order.id.as_str())
            .arg(order.body.as_slice())
            .arg(epoch.to_string())
            .arg(change)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(match written {
            1 => OrderWrite::Written,
            0 => OrderWrite::Exists,
            _ => OrderWrite::Moved,
        })
    }

    async fn put_order(&self, order: &StoredOrder) -> Result<(), StoreError> {
        redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(self.orders_key())
            .arg(order.id.as_str())
            .arg(order.body.as_slice())
            .ignore()
            .cmd("INCR")
            .arg(self.epoch_key())
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn delete_order(&self, id: &OrderId) -> Result<bool, StoreError> {
        let deleted: i64 = self
            .shared
            .delete_order
            .key(self.orders_key())
            .key(self.epoch_key())
            .arg(id.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(deleted == 1)
    }

    async fn order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let body: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.orders_key())
            .arg(id.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(body.map(|body| StoredOrder {
            id: id.clone(),
            body,
        }))
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError> {
        let all: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.orders_key())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let mut orders: Vec<StoredOrder> = all
            .into_iter()
            .map(|(id, body)| StoredOrder {
                id: OrderId::new(id),
                body,
            })
            .collect();
        orders.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(orders)
    }

    async fn orders_epoch(&self) -> Result<u64, StoreError> {
        let epoch: Option<u64> = redis::cmd("GET")
            .arg(self.epoch_key())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(epoch.unwrap_or(0))
    }
}

impl PartitionStore for RedisStore {
    async fn load(
        &self,
        partition: &PartitionKey,
    ) -> Result<Option<Versioned<StateParts>>, StoreError> {
        let mut parts: StateParts = redis::cmd("HGETALL")
            .arg(self.key(&partition.to_string(), "state"))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let Some(version) = parts.remove("version") else {
            return Ok(None);
        };
        let version = std::str::from_utf8(&version)
            .ok()
            .and_then(|version| version.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("partition {partition}: bad version")))?;
        Ok(Some(Versioned {
            version,
            value: parts,
        }))
    }

    async fn commit(
        &self,
        partition: &PartitionKey,
        expected: u64,
        commit: Commit,
    ) -> Result<CommitOutcome, StoreError> {
        self.remember_partition(partition).await?;
        let name = partition.to_string();
        let to_list: Vec<bool> = {
            let mut listing = self.listing();
            commit
                .history
                .iter()
                .map(|entry| !listing.is_listed(partition, &entry.device))
                .collect()
        };
        let outbox: Vec<OutboxEntry> = commit
            .revisions
            .iter()
            .map(|entry| OutboxEntry {
                partition: partition.clone(),
                body: entry.revision.clone(),
                enqueued_at: commit.at,
            })
            .collect();
        let cmd = self.commit_cmd(&name, expected, &commit, &to_list, &outbox)?;
        let mut conn = if outbox.is_empty() {
            self.bulk.clone()
        } else {
            self.conn.clone()
        };
        let version = self.eval_commit(&cmd, &mut conn).await.map_err(|err| {
            self.schedule_full_repair();
            unavailable(err)
        })?;
        let Ok(version) = u64::try_from(version) else {
            return Ok(CommitOutcome::Conflict);
        };
        if to_list.contains(&true) {
            let mut listed = self.listing();
            for (entry, _) in commit
                .history
                .iter()
                .zip(&to_list)
                .filter(|(_, list)| **list)
            {
                listed.note(partition, &entry.device, entry.fix.ts, commit.at);
            }
        }
        if !outbox.is_empty()
            && let Err(err) = self.index_revisions(&name, &outbox).await
        {
            tracing::warn!("indexing a commit of {name} failed, repairing on next read: {err}");
            self.schedule_full_repair();
        }
        Ok(CommitOutcome::Committed(version))
    }

    async fn partitions(&self) -> Result<Vec<PartitionKey>, StoreError> {
        let mut conn = self.conn.clone();
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.global("partitions"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        names.sort();
        let mut partitions = Vec::with_capacity(names.len());
        for chunk in names.chunks(SCAN_BATCH) {
            let mut pipe = redis::pipe();
            for name in chunk {
                pipe.cmd("EXISTS").arg(self.key(name, "state"));
            }
            let committed: Vec<bool> = pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for (name, committed) in chunk.iter().zip(committed) {
                if committed {
                    partitions.push(PartitionKey::from_str(name)?);
                }
            }
        }
        partitions.sort();
        Ok(partitions)
    }

    async fn alert(&self, id: &AlertId) -> Result<Option<StoredAlert>, StoreError> {
        self.ensure_indexes().await?;
        let mut conn = self.conn.clone();
        let name: Option<String> = redis::cmd("HGET")
            .arg(self.global("alert-partition"))
            .arg(id.as_str())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(name) = name else {
            return Ok(None);
        };
        let (current, timeline): (Option<String>, Vec<String>) = redis::pipe()
            .atomic()
            .cmd("HGET")
            .arg(self.key(&name, "alerts"))
            .arg(id.as_str())
            .cmd("LRANGE")
            .arg(self.key(&name, &format!("timeline:{id}")))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some(current) = current else {
            return Ok(None);
        };
        Ok(Some(StoredAlert {
            partition: PartitionKey::from_str(&name)?,
            current: decode(current.as_bytes())?,
            timeline: timeline
                .iter()
                .map(|json| decode::<TimelineEntry>(json.as_bytes()))
                .collect::<Result<_, _>>()?,
        }))
    }

    async fn alerts(&self, partition: &PartitionKey) -> Result<Vec<DispatchBody>, StoreError> {
        let all: Vec<String> = redis::cmd("HVALS")
            .arg(self.key(&partition.to_string(), "alerts"))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let mut alerts = all
            .iter()
            .map(|json| decode::<DispatchBody>(json.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        alerts.sort_by(|a, b| a.alert_id.cmp(&b.alert_id));
        Ok(alerts)
    }
}

impl Outbox for RedisStore {
    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.ensure_indexes().await?;
        let mut conn = self.conn.clone();
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.global("outbox"))
            .arg(0)
            .arg(i64::try_from(limit - 1).unwrap_or(i64::MAX))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut stale = Vec::new();
        let mut listed = Vec::with_capacity(members.len());
        let mut pipe = redis::pipe();
        for member in members {
            match decode::<(String, String)>(member.as_bytes()) {
                Ok((name, key)) => {
                    pipe.cmd("HGET").arg(self.key(&name, "outbox")).arg(key);
                    listed.push(member);
                }
                Err(err) => {
                    tracing::error!("dropping outbox index member {member}: {err}");
                    stale.push(member);
                }
            }
        }
        let bodies: Vec<Option<String>> = if pipe.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut conn).await.map_err(unavailable)?
        };
        let mut entries = Vec::with_capacity(listed.len());
        for (member, body) in listed.into_iter().zip(bodies) {
            match body.map(|json| decode::<OutboxEntry>(json.as_bytes())) {
                Some(Ok(entry)) => entries.push(entry),
                Some(Err(err)) => tracing::error!("skipping outbox entry {member}: {err}"),
                None => stale.push(member),
            }
        }
        if !stale.is_empty() {
            redis::cmd("ZREM")
                .arg(self.global("outbox"))
                .arg(stale)
                .exec_async(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(entries)
    }

    async fn outbox_depth(&self) -> Result<Vec<(Priority, u64)>, StoreError> {
        self.ensure_indexes().await?;
        let mut pipe = redis::pipe();
        for priority in PRIORITIES {
            let rank = rank(priority);
            pipe.cmd("ZCOUNT")
                .arg(self.global("outbox"))
                .arg(rank * PRIORITY_SPAN)
                .arg(format!("({}", (rank + 1) * PRIORITY_SPAN));
        }
        let counts: Vec<u64> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(PRIORITIES.into_iter().zip(counts).collect())
    }

    async fn delivered(&self, partition: &PartitionKey, key: &str) -> Result<bool, StoreError> {
        let name = partition.to_string();
        let (removed,): (u64,) = redis::pipe()
            .cmd("ZREM")
            .arg(self.global("outbox"))
            .arg(outbox_member(&name, key)?)
            .ignore()
            .cmd("HDEL")
            .arg(self.key(&name, "outbox"))
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(removed == 1)
    }
}

impl EventLog for RedisStore {
    async fn events_after(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> Result<Vec<(EventId, DispatchBody)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = after.map_or_else(|| "-".to_owned(), |id| format!("({id}"));
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(self.global("events"))
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        entries
            .into_iter()
            .map(|(id, fields)| {
                let id = EventId::parse(&id)
                    .ok_or_else(|| StoreError::Corrupt(format!("event id `{id}`")))?;
                let body = fields
                    .chunks(2)
                    .find(|pair| pair.first().is_some_and(|field| field == "body"))
                    .and_then(|pair| pair.get(1))
                    .ok_or_else(|| StoreError::Corrupt(format!("event {id} has no body")))?;
                Ok((id, decode(body.as_bytes())?))
            })
            .collect()
    }

    async fn last_event_id(&self) -> Result<Option<EventId>, StoreError> {
        let last: Vec<(String, Vec<String>)> = redis::cmd("XREVRANGE")
            .arg(self.global("events"))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        last.into_iter()
            .next()
            .map(|(id, _)| {
                EventId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("event id `{id}`")))
            })
            .transpose()
    }

    async fn log_gap_after(&self, after: Option<&EventId>) -> Result<Option<EventId>, StoreError> {
        let key = self.global("events");
        let mut conn = self.conn.clone();
        let exists: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if !exists {
            return Ok(None);
        }
        let info: HashMap<String, redis::Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let field = |name: &str| -> Result<String, StoreError> {
            let value = info
                .get(name)
                .ok_or_else(|| StoreError::Corrupt(format!("XINFO STREAM without `{name}`")))?;
            redis::from_redis_value_ref::<String>(value)
                .map_err(|err| StoreError::Corrupt(format!("XINFO STREAM `{name}`: {err}")))
        };
        let first = field("recorded-first-entry-id")?;
        let first = EventId::parse(&first)
            .ok_or_else(|| StoreError::Corrupt(format!("event id `{first}`")))?;
        let dropped_any = field("entries-added")? != field("length")?;
        let dropped = dropped_any && after.is_none_or(|after| *after < first);
        Ok(dropped.then_some(first))
    }
}

impl History for RedisStore {
    async fn history(
        &self,
        partition: &PartitionKey,
        device: &DeviceId,
        from: TimestampMs,
        to: TimestampMs,
    ) -> Result<Vec<Fix>, StoreError> {
        let listed: Vec<String> = redis::cmd("LRANGE")
            .arg(self.key(&partition.to_string(), &format!("fixes:{device}")))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let mut fixes = listed
            .iter()
            .map(|json| decode::<Fix>(json.as_bytes()))
            .filter(|fix| {
                fix.as_ref()
                    .map_or(true, |fix| (from..to).contains(&fix.ts))
            })
            .collect::<Result<Vec<_>, _>>()?;
        fixes.sort_by_key(|fix| (fix.ts, fix.seq));
        fixes.dedup();
        Ok(fixes)
    }

    async fn trim_history(&self, before: TimestampMs) -> Result<u64, StoreError> {
        self.listing().before_trim(before, TimestampMs::now());
        let mut conn = self.conn.clone();
        let names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.global("partitions"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut removed = 0;
        for chunk in names.chunks(SCAN_BATCH) {
            let mut pipe = redis::pipe();
            for name in chunk {
                pipe.cmd("SMEMBERS").arg(self.key(name, "history-devices"));
            }
            let devices: Vec<Vec<String>> =
                pipe.query_async(&mut conn).await.map_err(unavailable)?;
            for (name, devices) in chunk.iter().zip(devices) {
                if devices.is_empty() {
                    continue;
                }
                let mut invocation = self.shared.trim.key(self.key(name, "history-devices"));
                invocation.arg(before.millis());
                for device in &devices {
                    invocation
                        .key(self.key(name, &format!("fixes:{device}")))
                        .arg(device);
                }
                let count: u64 = invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                removed += count;
            }
        }
        Ok(removed)
    }
}

impl AuditLog for RedisStore {
    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let (seq, hash, event): (Option<u64>, Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.audit_key("head"))
            .arg("seq")
            .arg("hash")
            .arg("event")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let event = event
            .map(|id| {
                EventId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("event id `{id}`")))
            })
            .transpose()?;
        Ok(AuditHead {
            link: Link {
                seq: seq.unwrap_or(0),
                hash: hash.unwrap_or_else(|| GENESIS.to_owned()),
            },
            event,
        })
    }

    async fn append_audit(
        &self,
        run: &AuditRun,
        event: Option<&EventId>,
    ) -> Result<bool, StoreError> {
        let (start, end) = (run.attaches_to(), run.end());
        let mut invocation = self.shared.append_audit.prepare_invoke();
        invocation
            .key(self.audit_key("head"))
            .key(self.audit_key("entries"))
            .arg(start.seq)
            .arg(start.hash.as_str())
            .arg(GENESIS)
            .arg(end.seq)
            .arg(end.hash.as_str())
            .arg(event.map_or("", EventId::as_str));
        for entry in run.entries() {
            invocation.arg(encode(entry)?);
        }
        let appended: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(appended == 1)
    }

    async fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = i64::try_from(after).unwrap_or(i64::MAX);
        let stop = start.saturating_add(i64::try_from(limit - 1).unwrap_or(i64::MAX));
        let entries: Vec<String> = redis::cmd("LRANGE")
            .arg(self.audit_key("entries"))
            .arg(start)
            .arg(stop)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        entries.iter().map(|json| decode(json.as_bytes())).collect()
    }
}

impl SetAsideLog for RedisStore {
    async fn set_aside(&self, message: &SetAside) -> Result<(), StoreError> {
        let key = self.global("set-aside");
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(&key)
            .arg(encode(message)?)
            .ignore()
            .cmd("LTRIM")
            .arg(&key)
            .arg(0)
            .arg(SET_ASIDE_KEPT - 1)
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn set_aside_messages(&self, limit: usize) -> Result<Vec<SetAside>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let messages: Vec<String> = redis::cmd("LRANGE")
            .arg(self.global("set-aside"))
            .arg(0)
            .arg(limit - 1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        messages
            .iter()
            .map(|json| decode(json.as_bytes()))
            .collect()
    }
}

/// Where an entry sorts in the outbox: most urgent priority first, then oldest.
fn outbox_score(entry: &OutboxEntry) -> u64 {
    rank(entry.body.priority) * PRIORITY_SPAN + entry.enqueued_at.millis().min(PRIORITY_SPAN - 1)
}

fn outbox_member(partition: &str, key: &str) -> Result<String, StoreError> {
    encode(&(partition, key))
}

fn unavailable(err: RedisError) -> StoreError {
    StoreError::Unavailable(err.to_string())
}
