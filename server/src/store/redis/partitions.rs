//! Partitions on Redis: their state, the commit, and the alerts commits wrote.

use std::str::FromStr;
use std::sync::{LazyLock, PoisonError};

use redis::{Cmd, ErrorKind, RedisResult, RedisWrite, Script, ServerErrorKind};
use vangnet_proto::{AlertId, DispatchBody, TimestampMs};

use super::connection::Connection;
use super::events::EVENTS_MAX_LEN;
use super::{RedisStore, SCAN_BATCH, unavailable};
use crate::store::partitions::without_positions;
use crate::store::{
    Commit, CommitOutcome, OutboxEntry, PartitionKey, PartitionStore, StateParts, StoreError,
    StoredAlert, TimelineEntry, Versioned, decode, encode,
};

/// How long a commit with an alert waits for its replicas.
const REPLICA_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// One step of one partition, written all or nothing.
static COMMIT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/commit.lua")));

/// Removes state parts of a partition at a version, last committed before a time.
static REMOVE_PARTS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/remove_parts.lua")));

/// Replaces a resolved alert's revisions with ones without positions.
static FORGET_POSITIONS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/forget_positions.lua")));

/// The field of a partition's `state` hash holding its last commit's time (ms).
const COMMITTED_AT: &str = "committed_at";

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
        parts.remove(COMMITTED_AT);
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
        if !outbox.is_empty() {
            self.wait_for_replicas(&mut conn, &name).await?;
        }
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
        let names = self.partition_names().await?;
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

    async fn remove_parts(
        &self,
        partition: &PartitionKey,
        expected: u64,
        names: &[String],
        before: TimestampMs,
    ) -> Result<bool, StoreError> {
        if names.is_empty() {
            return Ok(false);
        }
        let mut invocation = REMOVE_PARTS.key(self.key(&partition.to_string(), "state"));
        invocation.arg(expected).arg(before.millis()).arg(names);
        let removed: bool = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(removed)
    }

    async fn forget_positions(
        &self,
        from: TimestampMs,
        before: TimestampMs,
    ) -> Result<u64, StoreError> {
        self.ensure_indexes().await?;
        let mut conn = self.conn.clone();
        let mut forgotten = 0;
        for shard in 0..self.shared.shards.count() {
            let key = self.shard_key(shard, "alert-times");
            let mut offset = 0;
            loop {
                let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                    .arg(&key)
                    .arg(from.millis())
                    .arg(format!("({}", before.millis()))
                    .arg("LIMIT")
                    .arg(offset)
                    .arg(SCAN_BATCH)
                    .query_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                if members.is_empty() {
                    break;
                }
                offset += members.len();
                let exhausted = members.len() < SCAN_BATCH;
                let members = members
                    .iter()
                    .map(|member| {
                        member.split_once(MEMBER_SEPARATOR).ok_or_else(|| {
                            StoreError::Corrupt(format!("alert time index member `{member}`"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut read = redis::pipe();
                for (id, partition) in &members {
                    read.cmd("HGET").arg(self.key(partition, "alerts")).arg(id);
                    read.cmd("LRANGE")
                        .arg(self.key(partition, &format!("timeline:{id}")))
                        .arg(0)
                        .arg(-1);
                }
                let stored: Vec<(Option<String>, Vec<String>)> =
                    read.query_async(&mut conn).await.map_err(unavailable)?;
                for ((id, partition), (current, timeline)) in members.iter().zip(stored) {
                    let Some(current) = current else {
                        continue;
                    };
                    if self
                        .forget_alert_positions(&mut conn, (id, partition), &current, &timeline)
                        .await?
                    {
                        forgotten += 1;
                    }
                }
                if exhausted {
                    break;
                }
            }
        }
        Ok(forgotten)
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

    async fn alerts_before(
        &self,
        before: Option<&(u64, String)>,
        limit: usize,
    ) -> Result<Vec<DispatchBody>, StoreError> {
        self.ensure_indexes().await?;
        let mut conn = self.conn.clone();
        let max = before.map_or_else(|| "+inf".to_owned(), |(ms, _)| ms.to_string());
        let mut members = Vec::with_capacity(limit);
        for shard in 0..self.shared.shards.count() {
            let key = self.shard_key(shard, "alert-times");
            self.newest_times(&mut conn, &key, &max, before, limit, &mut members)
                .await?;
        }
        members.sort_by(|a, b| b.cmp(a));
        members.truncate(limit);
        let members: Vec<(String, String)> = members
            .into_iter()
            .map(|(_, id, partition)| (id, partition))
            .collect();
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut read = redis::pipe();
        for (id, partition) in &members {
            read.cmd("HGET").arg(self.key(partition, "alerts")).arg(id);
        }
        let bodies: Vec<Option<String>> = read.query_async(&mut conn).await.map_err(unavailable)?;
        members
            .iter()
            .zip(bodies)
            .map(|((id, _), body)| {
                let body = body.ok_or_else(|| {
                    StoreError::Corrupt(format!("alert {id} is indexed but gone"))
                })?;
                decode(body.as_bytes())
            })
            .collect()
    }
}

/// Separates the alert id from its partition in a member of `P:alert-times`;
/// it sorts before every character of an id, so members of one score sort by id.
const MEMBER_SEPARATOR: char = '\0';

/// An alert's member of `P:alert-times`: `{alert_id}\0{partition}`.
pub(super) fn time_member(alert: &str, partition: &str) -> String {
    format!("{alert}{MEMBER_SEPARATOR}{partition}")
}

impl RedisStore {
    /// Adds to `members` up to `limit` alerts of the time index `key`, newest
    /// first, from `max` down and before `before`: `(ms, id, partition)`.
    async fn newest_times(
        &self,
        conn: &mut Connection,
        key: &str,
        max: &str,
        before: Option<&(u64, String)>,
        limit: usize,
        members: &mut Vec<(u64, String, String)>,
    ) -> Result<(), StoreError> {
        let mut taken = 0;
        let mut offset = 0;
        while taken < limit {
            let batch = limit - taken;
            let found: Vec<(String, u64)> = redis::cmd("ZREVRANGEBYSCORE")
                .arg(key)
                .arg(max)
                .arg("-inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(offset)
                .arg(batch)
                .query_async(conn)
                .await
                .map_err(unavailable)?;
            offset += found.len();
            let exhausted = found.len() < batch;
            for (member, ms) in found {
                let (id, partition) = member.split_once(MEMBER_SEPARATOR).ok_or_else(|| {
                    StoreError::Corrupt(format!("alert time index member `{member}`"))
                })?;
                if before
                    .is_none_or(|(before_ms, before_id)| ms < *before_ms || id < before_id.as_str())
                {
                    members.push((ms, id.to_owned(), partition.to_owned()));
                    taken += 1;
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(())
    }

    /// Takes the positions out of one alert, `current` and `timeline` as
    /// read, if it is resolved and holds any, unless a commit changed it
    /// meanwhile; whether it did.
    async fn forget_alert_positions(
        &self,
        conn: &mut Connection,
        (id, partition): (&str, &str),
        current: &str,
        timeline: &[String],
    ) -> Result<bool, StoreError> {
        let entries = timeline
            .iter()
            .map(|json| decode::<TimelineEntry>(json.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let Some((stripped, entries)) = without_positions(&decode(current.as_bytes())?, &entries)
        else {
            return Ok(false);
        };
        let mut invocation = FORGET_POSITIONS.key(self.key(partition, "alerts"));
        invocation
            .key(self.key(partition, &format!("timeline:{id}")))
            .arg(id)
            .arg(current)
            .arg(timeline.len())
            .arg(encode(&stripped)?);
        for entry in &entries {
            invocation.arg(encode(entry)?);
        }
        invocation.invoke_async(conn).await.map_err(unavailable)
    }

    /// Every partition a commit was attempted on, in order of name.
    pub(super) async fn partition_names(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.global("partitions"))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        names.sort();
        Ok(names)
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

    /// The commit script's `EVALSHA` (`scripts/commit.lua`), written straight
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
        let keys = 2 + commit.history.len() + if revisions { 4 + outbox.len() } else { 0 };
        let key_len = self.shared.prefix.len() + partition.len() + 64;
        let args = 3
            + keys
            + 4
            + 2 * commit.parts.len()
            + 3 * commit.history.len()
            + 1
            + 7 * commit.revisions.len();
        let bytes = 128
            + keys * key_len
            + commit.parts.values().map(Vec::len).sum::<usize>()
            + 256 * commit.history.len();
        let mut cmd = Cmd::with_capacity(args, bytes);
        cmd.arg("EVALSHA").arg(COMMIT.get_hash()).arg(keys);
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
            cmd.arg(self.partition_shard_key(partition, "events"));
            cmd.arg(self.partition_shard_key(partition, "alert-times"));
            for entry in &commit.revisions {
                partition_key(&mut cmd, &["timeline:", entry.revision.alert_id.as_str()]);
            }
        }
        cmd.arg(expected)
            .arg(commit.at.millis())
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
                    .arg(encode(queued)?)
                    .arg(entry.revision.updated_at.0.millis())
                    .arg(time_member(entry.revision.alert_id.as_str(), partition));
            }
        }
        Ok(cmd)
    }

    /// Waits until the configured number of replicas hold what this
    /// connection wrote to `partition`'s primary, if any are wanted.
    async fn wait_for_replicas(
        &self,
        conn: &mut Connection,
        partition: &str,
    ) -> Result<(), StoreError> {
        let wanted = self.wait_replicas;
        if wanted == 0 {
            return Ok(());
        }
        let mut wait = redis::cmd("WAIT");
        wait.arg(wanted).arg(REPLICA_WAIT.as_millis() as u64);
        let reply = conn
            .on_primary_of(&self.key(partition, "state"), &wait)
            .await
            .map_err(unavailable)?;
        let confirmed: u32 = redis::from_redis_value(reply)
            .map_err(|err| StoreError::Corrupt(format!("WAIT answered {err}")))?;
        if confirmed < wanted {
            return Err(StoreError::Unavailable(format!(
                "{confirmed} of {wanted} replicas confirmed a commit of {partition}"
            )));
        }
        Ok(())
    }

    /// Runs the commit script's `cmd`, loading the script first if Redis lost it.
    async fn eval_commit(&self, cmd: &Cmd, conn: &mut Connection) -> RedisResult<i64> {
        match cmd.query_async(conn).await {
            Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                COMMIT.load_async(conn).await?;
                cmd.query_async(conn).await
            }
            result => result,
        }
    }
}
