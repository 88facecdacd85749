//! The event log on Redis: the stream `P:events`, which the commit script
//! appends to.

use std::collections::HashMap;

use vangnet_proto::DispatchBody;

use super::{RedisStore, unavailable};
use crate::store::{EventId, EventLog, StoreError, decode};

/// About how many events `P:events` keeps (`XADD MAXLEN ~`).
pub(super) const EVENTS_MAX_LEN: u64 = 100_000;

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
