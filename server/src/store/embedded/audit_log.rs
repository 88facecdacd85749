//! The audit chain in the embedded store: [`AUDIT`] and its head in [`AUDIT_HEADS`].

use redb::{ReadableTable, WriteTransaction};
use vangnet_proto::TimestampMs;

use super::{AUDIT, AUDIT_HEADS, EmbeddedStore, db_error};
use crate::audit_chain::{Draft, Entry as AuditEntry, Link, Run as AuditRun};
use crate::audit_seal::SealKey;
use crate::store::audit_log::sealed;
use crate::store::{AuditHead, AuditLog, EventId, StoreError, decode, encode};

/// The one row of [`AUDIT_HEADS`].
pub(super) const AUDIT_HEAD: &str = "head";

impl AuditLog for EmbeddedStore {
    fn with_audit_key(self, key: Option<SealKey>) -> Self {
        Self {
            seal_key: key,
            ..self
        }
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        self.read(|txn| {
            let heads = txn.open_table(AUDIT_HEADS).map_err(db_error)?;
            let head = heads.get(AUDIT_HEAD).map_err(db_error)?;
            Ok(head.map_or_else(AuditHead::default, |head| {
                let (seq, hash, event) = head.value();
                AuditHead {
                    link: Link {
                        seq,
                        hash: hash.to_owned(),
                    },
                    event: (!event.is_empty()).then(|| EventId(event.to_owned())),
                }
            }))
        })
        .await
    }

    async fn append_audit(
        &self,
        run: &AuditRun,
        event: Option<&EventId>,
    ) -> Result<bool, StoreError> {
        let run = sealed(run, self.seal_key.as_ref()).into_owned();
        let event = event.map(|id| id.as_str().to_owned());
        self.write(move |txn| {
            let (link, head_event) = head_in(txn)?;
            if link != *run.attaches_to() {
                return Ok(false);
            }
            write_run(txn, &run, &event.unwrap_or(head_event))?;
            Ok(true)
        })
        .await
    }

    async fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |txn| {
            let audit = txn.open_table(AUDIT).map_err(db_error)?;
            audit
                .range(after.saturating_add(1)..)
                .map_err(db_error)?
                .take(limit)
                .map(|item| decode(item.map_err(db_error)?.1.value().as_bytes()))
                .collect()
        })
        .await
    }
}

/// Appends `draft` at the chain's end inside `txn`, sealed under `key` when
/// given: the entry of a change that `txn` writes, so both or neither stay.
pub(super) fn append_in(
    txn: &WriteTransaction,
    draft: Draft,
    key: Option<&SealKey>,
) -> Result<(), StoreError> {
    let (link, event) = head_in(txn)?;
    let run = AuditRun::after(&link, [draft], TimestampMs::now());
    write_run(txn, &sealed(&run, key), &event)
}

/// The chain's end and the last event audited, inside a write.
fn head_in(txn: &WriteTransaction) -> Result<(Link, String), StoreError> {
    let heads = txn.open_table(AUDIT_HEADS).map_err(db_error)?;
    let head = heads.get(AUDIT_HEAD).map_err(db_error)?;
    Ok(head.map_or_else(
        || (Link::default(), String::new()),
        |head| {
            let (seq, hash, event) = head.value();
            let link = Link {
                seq,
                hash: hash.to_owned(),
            };
            (link, event.to_owned())
        },
    ))
}

/// Stores `run`'s entries and moves the head to its end, with `event` as the last event audited.
fn write_run(txn: &WriteTransaction, run: &AuditRun, event: &str) -> Result<(), StoreError> {
    let mut audit = txn.open_table(AUDIT).map_err(db_error)?;
    for entry in run.entries() {
        audit
            .insert(entry.seq, encode(entry)?.as_str())
            .map_err(db_error)?;
    }
    let end = run.end();
    txn.open_table(AUDIT_HEADS)
        .map_err(db_error)?
        .insert(AUDIT_HEAD, (end.seq, end.hash.as_str(), event))
        .map_err(db_error)?;
    Ok(())
}
