//! The event log: every committed alert revision, in commit order.

use std::fmt;
use std::future::Future;

use vangnet_proto::{DispatchBody, TimestampMs};

use super::{StoreError, TimelineEntry, decode};

/// The ids [`EventId::parse`] takes: a position in a log (a number, optionally
/// `-` and a number, each of at most 19 digits, or 20 with a leading zero, so
/// it always fits a u64), or on a Redis Cluster one position per shard (at
/// most 16) joined by `.`.
pub const EVENT_ID_PATTERN: &str = concat!(
    r"^([0-9]{1,19}|0[0-9]{19})(-([0-9]{1,19}|0[0-9]{19}))?",
    r"(\.([0-9]{1,19}|0[0-9]{19})(-([0-9]{1,19}|0[0-9]{19}))?){0,15}$"
);

/// Where an alert revision sits in the event log ([`EventLog::events_after`]).
///
/// A Redis stream id (`ms-seq`), the embedded store's zero-padded sequence
/// number, or on a Redis Cluster the stream id reached in each shard, joined
/// by `.`; ordered by their numeric parts, so ids of one log sort in log order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(pub(super) String);

impl EventId {
    /// Reads an id a client sent back (`Last-Event-ID`), as
    /// [`EVENT_ID_PATTERN`] says: positions joined by `.`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let number = |part: &str| {
            part.bytes().all(|b| b.is_ascii_digit())
                && ((1..=19).contains(&part.len()) || (part.len() == 20 && part.starts_with('0')))
        };
        let position = |position: &str| {
            let (first, rest) = position.split_once('-').unwrap_or((position, "0"));
            number(first) && number(rest)
        };
        let positions = text.split('.');
        (positions.clone().count() <= 16 && positions.clone().all(position))
            .then(|| Self(text.to_owned()))
    }

    /// The id as sent to clients.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The numeric parts, for ordering.
    pub(super) fn parts(&self) -> Vec<(u64, u64)> {
        self.0
            .split('.')
            .map(|position| {
                let (first, rest) = position.split_once('-').unwrap_or((position, "0"));
                (first.parse().unwrap_or(0), rest.parse().unwrap_or(0))
            })
            .collect()
    }
}

impl Ord for EventId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts()
            .cmp(&other.parts())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for EventId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads an event as the log stores it: a timeline entry, or a bare
/// revision as versions before acts were logged wrote it.
pub(super) fn decode_event(json: &[u8]) -> Result<TimelineEntry, StoreError> {
    decode(json).or_else(|err| match decode::<DispatchBody>(json) {
        Ok(revision) => Ok(TimelineEntry {
            revision,
            act: None,
        }),
        Err(_) => Err(err),
    })
}

/// The log that alert streams, the alert board, dispatch and the audit
/// recorder follow, each from where it last read.
pub trait EventLog: Send + Sync + 'static {
    /// Up to `limit` alert revisions committed after `after` (from the start
    /// of the log when `None`), oldest first, each with the act that made it
    /// if a person acted (so that the audit trail records acts exactly as
    /// they were committed): every committed revision is in
    /// the log exactly once, in commit order, until the log drops it (both
    /// stores keep about the newest 100,000, and [`EventLog::trim_events`]
    /// drops older ones; see [`EventLog::log_gap_after`]).
    fn events_after(
        &self,
        after: Option<&EventId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(EventId, TimelineEntry)>, StoreError>> + Send;
    /// Drops from the head of the log the events whose revision was made
    /// before `before`, stopping at `kept` (the last event the audit trail
    /// recorded, so that its recorder finds no gap; without one, nothing
    /// goes); returns how many went.
    fn trim_events(
        &self,
        before: TimestampMs,
        kept: Option<&EventId>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The id of the newest event in the log, if any.
    fn last_event_id(&self) -> impl Future<Output = Result<Option<EventId>, StoreError>> + Send;
    /// Whether a reader at `after` (at the start when `None`) may have missed
    /// events the log dropped: the first event still held when the log has
    /// dropped events and `after` sorts before that first one, else `None`.
    fn log_gap_after(
        &self,
        after: Option<&EventId>,
    ) -> impl Future<Output = Result<Option<EventId>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use vangnet_proto::Priority;

    use super::*;

    #[test]
    fn an_event_stored_as_a_bare_revision_reads_without_an_act() {
        let revision = crate::store::conformance::body("alert-1", 1, Priority::P1);
        let stored = serde_json::to_vec(&revision).unwrap();

        let entry = decode_event(&stored).unwrap();
        assert_eq!((entry.revision, entry.act), (revision, None));
    }

    #[test]
    fn an_event_that_is_neither_an_entry_nor_a_revision_is_corrupt() {
        let stored = br#"{"revision": "nonsense"}"#;
        assert!(matches!(decode_event(stored), Err(StoreError::Corrupt(_))));
    }
}
