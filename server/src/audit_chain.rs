//! The audit chain itself, free of I/O: an entry carries the SHA-256 of its
//! own canonical form, which includes the hash of the entry before, so
//! editing, removing or reordering any entry breaks every link after it.
//! The store keeps the chain and [`crate::audit`] writes it; this module
//! uses neither.
//!
//! A hash chain alone proves nothing against someone who can write to the
//! store: they can rewrite an entry and recompute every hash after it. Each
//! entry therefore also carries a seal, an HMAC of its seq and hash under a
//! key the store does not hold ([`SealKey`]). Entries written while no key
//! was configured carry none and are reported as unsealed.
//!
//! Removing entries at the very end leaves a shorter chain that is still
//! intact and sealed: only the head record the store keeps beside the chain,
//! or a length the verifier already knew, shows that. An exported file
//! therefore proves what it holds, not that nothing followed.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use vangnet_proto::{TimestampMs, UtcTime};

use crate::audit_seal::SealKey;

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
    /// HMAC-SHA256 (hex) of `seq` and `hash` under the audit key; absent on
    /// entries written without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
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
            seal: None,
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

    /// The same run with every entry sealed under `key`.
    pub fn sealed(&self, key: &SealKey) -> Self {
        let mut run = self.clone();
        for entry in &mut run.entries {
            entry.seal = Some(key.seal(entry.seq, &entry.hash));
        }
        run
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
    /// Its seal is not the audit key's seal of its seq and hash: it was
    /// rewritten, or sealed with another key.
    BadSeal,
    /// It has no seal though an entry before it has: its seal was removed.
    Unsealed,
    /// The chain's last entry has no seal though a key is given: seals were
    /// stripped from the whole chain, or the service runs without the key.
    UnsealedEnd,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Edited => "edited: its content does not match its hash",
            Self::Missing => "missing: the entries before it are gone",
            Self::OutOfOrder => "out of order: it is not at its place in the chain",
            Self::Relinked => "relinked: the entry before it was rewritten",
            Self::Truncated => "missing: the chain ends before the last entry recorded",
            Self::BadSeal => "bad seal: rewritten, or sealed with another key",
            Self::Unsealed => "unsealed after sealed entries: its seal was removed",
            Self::UnsealedEnd => {
                "unsealed although a key is given: seals were stripped, or the service runs without the key"
            }
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

/// What a check of the whole chain found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// How many entries were verified.
    pub entries: u64,
    /// The first sealed entry's seq; `None` when no entry is sealed.
    pub sealed_from: Option<u64>,
    /// Whether seals were checked against a key, or only the hashes.
    pub seals_checked: bool,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} entries verified", self.entries)?;
        match (self.seals_checked, self.sealed_from) {
            (true, Some(1)) => write!(f, "; every entry sealed"),
            (true, Some(from)) => write!(
                f,
                "; sealed from seq {from}: the {} entries before it are unsealed (written without a key)",
                from - 1
            ),
            (true, None) => Ok(()),
            (false, sealed_from) => {
                write!(
                    f,
                    " for consistency only: no audit key is configured (VANGNET_AUDIT_KEY_FILE), so seals were not checked"
                )?;
                sealed_from.map_or(Ok(()), |from| {
                    write!(f, "; entries carry seals from seq {from}")
                })
            }
        }
    }
}

/// Checks entries one at a time, in stored order, from the start of the chain.
///
/// A seq that skips ahead is held open until the end: if the skipped entry
/// turns up later the chain was reordered, otherwise it lost entries.
#[derive(Debug, Default)]
pub struct Verifier {
    last: Link,
    gap: Option<u64>,
    key: Option<SealKey>,
    sealed_from: Option<u64>,
    last_sealed: bool,
}

impl Verifier {
    /// A verifier that checks seals with `key` as well as the hashes; with
    /// `None`, only the hashes.
    pub fn new(key: Option<SealKey>) -> Self {
        Self {
            key,
            ..Self::default()
        }
    }

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
        self.check_seal(entry)?;
        self.last = entry.link();
        self.last_sealed = entry.seal.is_some();
        Ok(())
    }

    /// Checks the seal of an entry whose hash and link are intact.
    fn check_seal(&mut self, entry: &Entry) -> Result<(), Broken> {
        let broken = |fault| {
            Err(Broken {
                seq: entry.seq,
                fault,
            })
        };
        match (&entry.seal, &self.key) {
            (Some(seal), Some(key)) if !key.verifies(entry.seq, &entry.hash, seal) => {
                return broken(Fault::BadSeal);
            }
            (None, Some(_)) if self.sealed_from.is_some() => return broken(Fault::Unsealed),
            (Some(_), _) => {
                self.sealed_from.get_or_insert(entry.seq);
            }
            (None, _) => {}
        }
        Ok(())
    }

    /// Ends the check against the head the store recorded, if any.
    pub fn finish(self, head: Option<&Link>) -> Result<Verified, Broken> {
        let broken = |seq, fault| Err(Broken { seq, fault });
        match (self.gap, head) {
            (Some(gap), _) => broken(gap, Fault::Missing),
            (None, Some(head)) if head.seq > self.last.seq => {
                broken(self.last.seq + 1, Fault::Truncated)
            }
            (None, Some(head)) if head.seq == self.last.seq && head.hash != self.last.hash => {
                broken(head.seq, Fault::Edited)
            }
            (None, _) if self.key.is_some() && self.last.seq > 0 && !self.last_sealed => {
                broken(self.last.seq, Fault::UnsealedEnd)
            }
            _ => Ok(Verified {
                entries: self.last.seq,
                sealed_from: self.sealed_from,
                seals_checked: self.key.is_some(),
            }),
        }
    }
}

/// Verifies the hashes of a whole chain held in memory; returns how many entries it has.
pub fn verify<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<u64, Broken> {
    verify_sealed(entries, None).map(|verified| verified.entries)
}

/// Verifies a whole chain held in memory, its seals too when `key` is given.
pub fn verify_sealed<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    key: Option<&SealKey>,
) -> Result<Verified, Broken> {
    let mut verifier = Verifier::new(key.cloned());
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

    fn sealed(entries: &[Entry], key: &SealKey) -> Vec<Entry> {
        entries
            .iter()
            .map(|entry| Entry {
                seal: Some(key.seal(entry.seq, &entry.hash)),
                ..entry.clone()
            })
            .collect()
    }

    #[test]
    fn an_intact_sealed_chain_verifies_as_sealed_from_its_first_entry() {
        let key = SealKey::generate();
        let verified = verify_sealed(&sealed(&chain(5), &key), Some(&key)).unwrap();
        assert_eq!(
            verified,
            Verified {
                entries: 5,
                sealed_from: Some(1),
                seals_checked: true
            }
        );
    }

    #[test]
    fn a_run_sealed_with_a_key_carries_that_keys_seals() {
        let key = SealKey::generate();
        let run = Run::after(
            &Link::default(),
            [Draft::new("a", "b", "c", json!({}))],
            TimestampMs(0),
        );
        let sealed = run.sealed(&key);
        let entry = &sealed.entries()[0];
        assert!(key.verifies(entry.seq, &entry.hash, entry.seal.as_deref().unwrap()));
    }

    #[test]
    fn a_chain_sealed_with_one_key_fails_with_another_at_its_first_sealed_entry() {
        let entries = sealed(&chain(3), &SealKey::generate());
        let broken = verify_sealed(&entries, Some(&SealKey::generate())).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (1, Fault::BadSeal));
    }

    #[test]
    fn a_consistent_rewrite_without_the_key_fails_at_the_first_rewritten_seq() {
        let key = SealKey::generate();
        let mut entries = sealed(&chain(5), &key);
        entries[2].detail = json!({"n": 99});
        let mut link = entries[1].link();
        for entry in &mut entries[2..] {
            entry.prev_hash = link.hash.clone();
            entry.hash = entry.digest();
            link = entry.link();
        }
        assert_eq!(verify(&entries), Ok(5));
        let broken = verify_sealed(&entries, Some(&key)).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (3, Fault::BadSeal));
    }

    #[test]
    fn a_seal_removed_after_sealed_entries_is_reported() {
        let key = SealKey::generate();
        let mut entries = sealed(&chain(3), &key);
        entries[2].seal = None;
        let broken = verify_sealed(&entries, Some(&key)).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (3, Fault::Unsealed));
    }

    #[test]
    fn a_chain_stripped_of_every_seal_fails_with_a_key_at_its_end() {
        let key = SealKey::generate();
        let mut entries = sealed(&chain(3), &key);
        for entry in &mut entries {
            entry.seal = None;
        }
        let broken = verify_sealed(&entries, Some(&key)).unwrap_err();
        assert_eq!((broken.seq, broken.fault), (3, Fault::UnsealedEnd));
    }

    #[test]
    fn a_chain_sealed_part_way_verifies_and_says_from_which_seq() {
        let key = SealKey::generate();
        let entries = chain(5);
        let mut partly = entries[..2].to_vec();
        partly.extend(sealed(&entries[2..], &key));
        let verified = verify_sealed(&partly, Some(&key)).unwrap();
        assert_eq!((verified.entries, verified.sealed_from), (5, Some(3)));
    }

    #[test]
    fn without_a_key_seals_are_noted_but_not_checked() {
        let entries = sealed(&chain(2), &SealKey::generate());
        let verified = verify_sealed(&entries, None).unwrap();
        assert_eq!(
            (verified.sealed_from, verified.seals_checked),
            (Some(1), false)
        );
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
