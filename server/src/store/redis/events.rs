//! The event log on Redis: the stream `P:events` (on a cluster, one stream
//! per shard, merged here), which the commit script appends to.

use std::collections::HashMap;

use vangnet_proto::TimestampMs;

use super::shards::Positions;
use super::{RedisStore, unavailable};
use crate::store::events::decode_event;
use crate::store::{EventId, EventLog, StoreError, TimelineEntry};

/// About how many events `P:events` keeps (`XADD MAXLEN ~`), per shard.
pub(super) const EVENTS_MAX_LEN: u64 = 100_000;

/// Events read per round trip when looking for where a trim stops.
const TRIM_BATCH: usize = 256;

/// A stream entry as `XRANGE` gives it.
type Entry = (String, Vec<String>);

impl EventLog for RedisStore {
    async fn events_after(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> Result<Vec<(EventId, TimelineEntry)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut positions = Positions::of(after, self.shared.shards.count());
        let mut read = redis::pipe();
        for (shard, position) in positions.0.iter().enumerate() {
            read.cmd("XRANGE")
                .arg(self.shard_key(shard, "events"))
                .arg(format!("({position}"))
                .arg("+")
                .arg("COUNT")
                .arg(limit);
        }
        let shards: Vec<Vec<Entry>> = read
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let mut merged = Vec::new();
        for (shard, entries) in shards.into_iter().enumerate() {
            for (id, fields) in entries {
                let order = stream_id(&id)?;
                merged.push((order, shard, id, fields));
            }
        }
        merged.sort_by_key(|(order, shard, _, _)| (*order, *shard));
        merged.truncate(limit);
        merged
            .into_iter()
            .map(|(_, shard, id, fields)| {
                let body = body_of(&id, &fields)?;
                if let Some(position) = positions.0.get_mut(shard) {
                    *position = id;
                }
                Ok((positions.id(), body))
            })
            .collect()
    }

    async fn trim_events(
        &self,
        before: TimestampMs,
        kept: Option<&EventId>,
    ) -> Result<u64, StoreError> {
        let Some(kept) = kept else {
            return Ok(0);
        };
        let kept = Positions::of(Some(kept), self.shared.shards.count());
        let mut removed = 0;
        for (shard, kept) in kept.0.iter().enumerate() {
            let key = self.shard_key(shard, "events");
            let Some(keep_from) = self.first_to_keep(&key, before, kept).await? else {
                continue;
            };
            let count: u64 = redis::cmd("XTRIM")
                .arg(&key)
                .arg("MINID")
                .arg(keep_from)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            removed += count;
        }
        Ok(removed)
    }

    async fn last_event_id(&self) -> Result<Option<EventId>, StoreError> {
        let mut read = redis::pipe();
        for shard in 0..self.shared.shards.count() {
            read.cmd("XREVRANGE")
                .arg(self.shard_key(shard, "events"))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
        }
        let last: Vec<Vec<Entry>> = read
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        if last.iter().all(Vec::is_empty) {
            return Ok(None);
        }
        let positions = last
            .into_iter()
            .map(|entries| {
                entries
                    .into_iter()
                    .next()
                    .map_or_else(|| "0-0".to_owned(), |(id, _)| id)
            })
            .collect();
        Ok(Some(Positions(positions).id()))
    }

    async fn log_gap_after(&self, after: Option<&EventId>) -> Result<Option<EventId>, StoreError> {
        let positions = Positions::of(after, self.shared.shards.count());
        let mut firsts = Vec::with_capacity(positions.0.len());
        let mut gap = false;
        for (shard, position) in positions.0.iter().enumerate() {
            match self.first_held(shard).await? {
                Some((first, dropped_any)) => {
                    gap |= dropped_any
                        && (after.is_none() || stream_id(position)? < stream_id(&first)?);
                    firsts.push(first);
                }
                None => firsts.push(position.clone()),
            }
        }
        Ok(gap.then(|| Positions(firsts).id()))
    }
}

impl RedisStore {
    /// The id from which the stream `key` keeps its events: the first made
    /// at or after `before`, or `kept` if that comes first; `None` to keep all.
    async fn first_to_keep(
        &self,
        key: &str,
        before: TimestampMs,
        kept: &str,
    ) -> Result<Option<String>, StoreError> {
        let kept_at = stream_id(kept)?;
        if kept_at == (0, 0) {
            return Ok(None);
        }
        let mut start = "-".to_owned();
        loop {
            let entries: Vec<Entry> = redis::cmd("XRANGE")
                .arg(key)
                .arg(&start)
                .arg(kept)
                .arg("COUNT")
                .arg(TRIM_BATCH)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            for (id, fields) in &entries {
                if stream_id(id)? >= kept_at || body_of(id, fields)?.revision.updated_at.0 >= before
                {
                    return Ok(Some(id.clone()));
                }
            }
            match entries.last() {
                Some((last, _)) if entries.len() == TRIM_BATCH => start = format!("({last}"),
                _ => return Ok(Some(kept.to_owned())),
            }
        }
    }

    /// The first event a shard's log still holds, and whether it ever dropped one.
    async fn first_held(&self, shard: usize) -> Result<Option<(String, bool)>, StoreError> {
        let key = self.shard_key(shard, "events");
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
        let dropped_any = field("entries-added")? != field("length")?;
        Ok(Some((first, dropped_any)))
    }
}

/// The timeline entry a stream entry holds in its field `body`.
fn body_of(id: &str, fields: &[String]) -> Result<TimelineEntry, StoreError> {
    let body = fields
        .chunks(2)
        .find(|pair| pair.first().is_some_and(|field| field == "body"))
        .and_then(|pair| pair.get(1))
        .ok_or_else(|| StoreError::Corrupt(format!("event {id} has no body")))?;
    decode_event(body.as_bytes())
}

/// A stream id's numeric parts, which order it within its stream.
fn stream_id(id: &str) -> Result<(u64, u64), StoreError> {
    let corrupt = || StoreError::Corrupt(format!("event id `{id}`"));
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Ok((
        ms.parse().map_err(|_| corrupt())?,
        seq.parse().map_err(|_| corrupt())?,
    ))
}
