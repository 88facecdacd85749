//! The audit chain itself, free of I/O: an entry carries the SHA-256 of its
//! own canonical form, which includes the hash of the entry before, so
//! editing, removing or reordering any entry breaks every link after it.
//! The store keeps the chain and [`crate::audit`] writes it; this module
//! uses neither.
//!
//! Removing entries at the very end leaves a shorter chain that is still
//! intact: only the head record the store keeps beside the chain shows that. An
//! exported file therefore proves what it holds, not that nothing followed.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use vangnet_proto::{TimestampMs, UtcTime};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry, as stored, served and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct Entry {
    /// Position in the chain: 1, 2, 3 …
    pub seq: u64,
    /// Server time of the append, RFC 3339 with milliseconds.
    pub at: String,
    /// Who: a token's `sub`, `system`, or `dispatch:<route>`.
    pub actor: String,
    /// What, e.g. `order.create`, `alert.revision`, `dispatch.failed`.
    pub action: String,
    /// The order or alert id it concerns.
    pub subject: String,
    /// A small JSON object with the particulars.
    pub detail: Value,
    /// The `hash` of the entry before ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) of this entry's canonical form, `prev_hash` included.
    pub hash: String,
}

/// What a caller wants recorded; the chain adds seq, time and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Which order or alert.
    pub subject: String,
    /// Particulars (never tokens or coordinates).
    pub detail: Value,
}

impl Draft {
    /// A draft of `action` by `actor` on `subject`.
    pub fn new(actor: &str, action: &str, subject: &str, detail: Value) -> Self {
        Self {
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            detail,
        }
    }
}

/// The end of the chain: where the next entry attaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The last entry's seq (0 for an empty chain).
    pub seq: u64,
    /// The last entry's hash ([`GENESIS`] for an empty chain).
    pub hash: String,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// The fields that are hashed, in a fixed order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    detail: &'a Value,
    prev_hash: &'a str,
}

impl Entry {
    /// The entry `draft` makes when appended after `link` at time `at`.
    pub fn next(link: &Link, draft: Draft, at: TimestampMs) -> Self {
        let mut entry = Self {
            seq: link.seq + 1,
            at: UtcTime(at).to_string(),
            actor: draft.actor,
            action: draft.action,
            subject: draft.subject,
            detail: draft.detail,
            prev_hash: link.hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry.digest();
        entry
    }

    /// SHA-256 (hex) of the canonical form: the JSON of every field but
    /// `hash`, in declaration order, with `detail` as serde_json writes it.
    pub fn digest(&self) -> String {
        let canonical = Canonical {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            subject: &self.subject,
            detail: &self.detail,
            prev_hash: &self.prev_hash,
        };
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }

    /// Where the entry after this one attaches.
    pub fn link(&self) -> Link {
        Link {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// Entries that link on from one another and from the link they were built
/// on, so that a store appends them in one step or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    after: Link,
    entries: Vec<Entry>,
}

impl Run {
    /// The entries `drafts` make, in order, when appended after `link` at time `at`.
    pub fn after(link: &Link, drafts: impl IntoIterator<Item = Draft>, at: TimestampMs) -> Self {
        let mut end = link.clone();
        let entries = drafts
            .into_iter()
            .map(|draft| {
                let entry = Entry::next(&end, draft, at);
                end = entry.link();
                entry
            })
            .collect();
        Self {
            after: link.clone(),
            entries,
        }
    }

    /// Where the chain must end for the run to attach.
    pub fn attaches_to(&self) -> &Link {
        &self.after
    }

    /// The entries, first to last.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Where the chain ends once the run is appended.
    pub fn end(&self) -> Link {
        self.entries
            .last()
            .map_or_else(|| self.after.clone(), Entry::link)
    }
}

/// Why the chain is broken at an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Its content does not match its own hash.
    Edited,
    /// Entries before it are missing: its seq skips ahead.
    Missing,
    /// It is not where its seq says: entries were swapped or repeated.
    OutOfOrder,
    /// It does not link to the entry before, which was rewritten.
    Relinked,
    /// The chain ends before the store's head: entries at the end were removed.
    Truncated,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Edited => "edited: its content does not match its hash",
            Self::Missing => "missing: the entries before it are gone",
            Self::OutOfOrder => "out of order: it is not at its place in the chain",
            Self::Relinked => "relinked: the entry before it was rewritten",
            Self::Truncated => "missing: the chain ends before the last entry recorded",
        })
    }
}

/// The first place the chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {fault}")]
pub struct Broken {
    /// The seq where the chain breaks: the entry at fault or the first one missing.
    pub seq: u64,
    /// Why.
    pub fault: Fault,
}

/// Checks entries one at a time, in stored order, from the start of the chain.
///
/// A seq that skips ahead is held open until the end: if the skipped entry
/// turns up later the chain was reordered, otherwise it lost entries.
#[derive(Debug, Default)]
pub struct Verifier {
    last: Link,
    gap: Option<u64>,
}

impl Verifier {
    /// Checks the next stored entry.
    pub fn check(&mut self, entry: &Entry) -> Result<(), Broken> {
        if let Some(gap) = self.gap {
            return if entry.seq == gap {
                Err(Broken {
                    seq: gap,
                    fault: Fault::OutOfOrder,
                })
            } else {
                Ok(())
            };
        }
        let expected = self.last.seq + 1;
        let broken = |seq, fault| Err(Broken { seq, fault });
        if entry.seq > expected {
            self.gap = Some(expected);
            return Ok(());
        }
        if entry.seq < expected {
            return broken(expected, Fault::OutOfOrder);
        }
        if entry.digest() != entry.hash {
            return broken(entry.seq, Fault::Edited);
        }
        if entry.prev_hash != self.last.hash {
            return broken(entry.seq, Fault::Relinked);
        }
        self.last = entry.link();
        Ok(())
    }

    /// Ends the check against the head the store recorded, if any; returns
    /// how many entries were verified.
    pub fn finish(self, head: Option<&Link>) -> Result<u64, Broken> {
        let broken = |seq, fault| Err(Broken { seq, fault });
        match (self.gap, head) {
            (Some(gap), _) => broken(gap, Fault::Missing),
            (None, Some(head)) if head.seq > self.last.seq => {
                broken(self.last.seq + 1, Fault::Truncated)
            }
            (None, Some(head)) if head.seq == self.last.seq && head.hash != self.last.hash => {
                broken(head.seq, Fault::Edited)
            }
            _ => Ok(self.last.seq),
        }
    }
}

/// Verifies a whole chain held in memory; returns how many entries it has.
pub fn verify<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<u64, Broken> {
    let mut verifier = Verifier::default();
    for entry in entries {
        verifier.check(entry)?;
    }
    verifier.finish(None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain(length: u64) -> Vec<Entry> {
        let mut link = Link::default();
        (1..=length)
            .map(|n| {
                let draft = Draft::new(
                    "admin-1",
                    "order.create",
                    &format!("order-{n}"),
                    json!({"n": n}),
                );
                let entry = Entry::next(&link, draft, TimestampMs(1_764_331_200_000 + n));
                link = entry.link();
                entry
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_with_its_length() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn the_first_entry_has_seq_1_and_links_to_genesis() {
        let entries = chain(1);
        assert_eq!(entries[0].seq, 1);
        assert_eq!(entries[0].prev_hash, GENESIS);
        assert_eq!(entries[0].at, "2025-11-28T12:00:00.001Z");
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn a_first_entry_not_linked_to_genesis_is_relinked() {
        let mut entries = chain(1);
        entries[0].prev_hash = "ab".repeat(32);
        entries[0].hash = entries[0].digest();
        let broken = verify(&entries).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (1, Fault::Relinked));
    }

    #[test]
    fn an_edited_entry_is_named_by_its_seq() {
        let mut entries = chain(5);
        entries[2].actor = "someone-else".into();
        let broken = verify(&entries).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (3, Fault::Edited));
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].detail = json!({"n": 99});
        entries[2].hash = entries[2].digest();
        let broken = verify(&entries).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (4, Fault::Relinked));
    }

    #[test]
    fn a_deleted_entry_is_reported_missing() {
        let mut entries = chain(5);
        entries.remove(1);
        let broken = verify(&entries).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (2, Fault::Missing));
    }

    #[test]
    fn swapped_entries_are_reported_out_of_order() {
        let mut entries = chain(5);
        entries.swap(1, 3);
        let broken = verify(&entries).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (2, Fault::OutOfOrder));
    }

    #[test]
    fn a_repeated_entry_is_reported_out_of_order() {
        let mut entries = chain(3);
        entries.insert(2, entries[0].clone());
        let broken = verify(&entries).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (3, Fault::OutOfOrder));
    }

    #[test]
    fn truncation_at_the_end_shows_only_against_the_head() {
        let entries = chain(5);
        let head = entries[4].link();
        assert_eq!(verify(&entries[..3]), Ok(3));
        let mut verifier = Verifier::default();
        for entry in &entries[..3] {
            verifier.check(entry).unwrap();
        }
        let broken = verifier.finish(Some(&head)).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (4, Fault::Truncated));
    }
}
