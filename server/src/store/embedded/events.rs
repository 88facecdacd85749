//! The event log in the embedded store: [`EVENTS`], which a commit appends
//! to, keeping the newest events only.

use redb::ReadableTable;
use vangnet_proto::TimestampMs;

use super::{EVENTS, EmbeddedStore, db_error};
use crate::store::events::decode_event;
use crate::store::{EventId, EventLog, StoreError, TimelineEntry};

impl EventLog for EmbeddedStore {
    async fn events_after(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> Result<Vec<(EventId, TimelineEntry)>, StoreError> {
        let start = match after {
            None => 0,
            Some(id) => id
                .parts()
                .first()
                .map_or(0, |part| part.0)
                .saturating_add(1),
        };
        self.read(move |txn| {
            let events = txn.open_table(EVENTS).map_err(db_error)?;
            events
                .range(start..)
                .map_err(db_error)?
                .take(limit)
                .map(|item| {
                    let (seq, body) = item.map_err(db_error)?;
                    Ok((
                        event_id(seq.value()),
                        decode_event(body.value().as_bytes())?,
                    ))
                })
                .collect()
        })
        .await
    }

    async fn trim_events(
        &self,
        before: TimestampMs,
        kept: Option<&EventId>,
    ) -> Result<u64, StoreError> {
        let Some(kept) = kept.and_then(|id| id.parts().first().map(|part| part.0)) else {
            return Ok(0);
        };
        self.write(move |txn| {
            let mut events = txn.open_table(EVENTS).map_err(db_error)?;
            let mut first = None;
            let mut keep_from = kept;
            for item in events.range(..kept).map_err(db_error)? {
                let (seq, body) = item.map_err(db_error)?;
                first.get_or_insert(seq.value());
                let entry = decode_event(body.value().as_bytes())?;
                if entry.revision.updated_at.0 >= before {
                    keep_from = seq.value();
                    break;
                }
            }
            let Some(first) = first.filter(|&first| first < keep_from) else {
                return Ok(0);
            };
            events
                .retain_in(first..keep_from, |_, _| false)
                .map_err(db_error)?;
            Ok(keep_from - first)
        })
        .await
    }

    async fn last_event_id(&self) -> Result<Option<EventId>, StoreError> {
        self.read(|txn| {
            let events = txn.open_table(EVENTS).map_err(db_error)?;
            let last = events.last().map_err(db_error)?;
            Ok(last.map(|(seq, _)| event_id(seq.value())))
        })
        .await
    }

    async fn log_gap_after(&self, after: Option<&EventId>) -> Result<Option<EventId>, StoreError> {
        let first = self
            .read(|txn| {
                let events = txn.open_table(EVENTS).map_err(db_error)?;
                let first = events.first().map_err(db_error)?;
                Ok(first.map(|(seq, _)| seq.value()))
            })
            .await?;
        let Some(first) = first.filter(|&seq| seq > 1) else {
            return Ok(None);
        };
        let first = event_id(first);
        Ok(after.is_none_or(|after| *after < first).then_some(first))
    }
}

/// The event id of a sequence number: zero-padded, so ids sort as text too.
fn event_id(seq: u64) -> EventId {
    EventId(format!("{seq:020}"))
}
