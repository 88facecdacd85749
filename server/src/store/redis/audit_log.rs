//! The audit chain on Redis: `P:{audit}:entries` and `P:{audit}:head` (on a
//! cluster in the orders' slot, see [`RedisStore::audit_key`]).

use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};
use vangnet_proto::TimestampMs;

use super::{RedisStore, unavailable};
use crate::audit_chain::{Draft, Entry as AuditEntry, GENESIS, Link, Run as AuditRun};
use crate::audit_seal::SealKey;
use crate::store::audit_log::sealed;
use crate::store::{AuditHead, AuditLog, EventId, StoreError, decode, encode};

/// Appends audit entries if the chain still ends where they attach.
static APPEND_AUDIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("scripts/audit_chain.lua"),
        include_str!("scripts/append_audit.lua")
    ))
});

impl AuditLog for RedisStore {
    fn with_audit_key(self, key: Option<SealKey>) -> Self {
        Self {
            seal_key: key,
            ..self
        }
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let (seq, hash, event): (Option<u64>, Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.audit_key("head"))
            .arg("seq")
            .arg("hash")
            .arg("event")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let event = event
            .map(|id| {
                EventId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("event id `{id}`")))
            })
            .transpose()?;
        Ok(AuditHead {
            link: Link {
                seq: seq.unwrap_or(0),
                hash: hash.unwrap_or_else(|| GENESIS.to_owned()),
            },
            event,
        })
    }

    async fn append_audit(
        &self,
        run: &AuditRun,
        event: Option<&EventId>,
    ) -> Result<bool, StoreError> {
        let mut invocation = APPEND_AUDIT.prepare_invoke();
        invocation
            .key(self.audit_key("head"))
            .key(self.audit_key("entries"))
            .arg(event.map_or("", EventId::as_str));
        self.run_args(&mut invocation, run)?;
        let appended: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(appended == 1)
    }

    async fn audit_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = i64::try_from(after).unwrap_or(i64::MAX);
        let stop = start.saturating_add(i64::try_from(limit - 1).unwrap_or(i64::MAX));
        let entries: Vec<String> = redis::cmd("LRANGE")
            .arg(self.audit_key("entries"))
            .arg(start)
            .arg(stop)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        entries.iter().map(|json| decode(json.as_bytes())).collect()
    }
}

impl RedisStore {
    /// The run `draft` makes at the chain's end as it is now, for a script
    /// that writes a change and its audit entry together; the script refuses
    /// it (and the caller builds it again) when the chain moved meanwhile.
    pub(super) async fn audit_run(&self, draft: &Draft) -> Result<AuditRun, StoreError> {
        let head = self.audit_head().await?;
        Ok(AuditRun::after(
            &head.link,
            [draft.clone()],
            TimestampMs::now(),
        ))
    }

    /// Adds `run`, sealed when the store has a key, to a script's arguments
    /// as `scripts/audit_chain.lua` reads them.
    pub(super) fn run_args(
        &self,
        invocation: &mut ScriptInvocation<'_>,
        run: &AuditRun,
    ) -> Result<(), StoreError> {
        let run = sealed(run, self.seal_key.as_ref());
        let (start, end) = (run.attaches_to(), run.end());
        invocation
            .arg(start.seq)
            .arg(start.hash.as_str())
            .arg(GENESIS)
            .arg(end.seq)
            .arg(end.hash.as_str());
        for entry in run.entries() {
            invocation.arg(encode(entry)?);
        }
        Ok(())
    }
}
