//! The audit chain in the embedded store: [`AUDIT`] and its head in [`AUDIT_HEADS`].

use redb::ReadableTable;

use super::{AUDIT, AUDIT_HEADS, EmbeddedStore, db_error};
use crate::audit_chain::{Entry as AuditEntry, GENESIS, Link, Run as AuditRun};
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
        let run = sealed(run, self.seal_key.as_ref());
        let entries = run
            .entries()
            .iter()
            .map(|entry| Ok((entry.seq, encode(entry)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (start, end) = (run.attaches_to().clone(), run.end());
        let event = event.map(|id| id.as_str().to_owned());
        self.write(move |txn| {
            let mut heads = txn.open_table(AUDIT_HEADS).map_err(db_error)?;
            let head_event = {
                let head = heads.get(AUDIT_HEAD).map_err(db_error)?;
                let (head_seq, head_hash, head_event) =
                    head.as_ref().map_or((0, GENESIS, ""), |head| head.value());
                if head_seq != start.seq || head_hash != start.hash {
                    return Ok(false);
                }
                event.unwrap_or_else(|| head_event.to_owned())
            };
            let mut audit = txn.open_table(AUDIT).map_err(db_error)?;
            for (seq, json) in &entries {
                audit.insert(*seq, json.as_str()).map_err(db_error)?;
            }
            heads
                .insert(
                    AUDIT_HEAD,
                    (end.seq, end.hash.as_str(), head_event.as_str()),
                )
                .map_err(db_error)?;
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
