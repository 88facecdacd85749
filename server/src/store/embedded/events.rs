//! The event log in the embedded store: [`EVENTS`], which a commit appends
//! to, keeping the newest events only.

use super::{EVENTS, EmbeddedStore, db_error};
use crate::store::events::decode_event;
use crate::store::{EventId, EventLog, StoreError, TimelineEntry};
use redb::ReadableTable;

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
