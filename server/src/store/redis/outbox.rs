//! The outbox on Redis: each partition's `P:{p:X}:outbox` hash, read in
//! delivery order through the `P:outbox` index.

use vangnet_proto::Priority;

use super::indexes::{PRIORITY_SPAN, outbox_member};
use super::{RedisStore, unavailable};
use crate::store::outbox::{PRIORITIES, rank};
use crate::store::{Outbox, OutboxEntry, PartitionKey, StoreError, decode};

impl Outbox for RedisStore {
    async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.ensure_indexes().await?;
        let mut conn = self.conn.clone();
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.global("outbox"))
            .arg(0)
            .arg(i64::try_from(limit - 1).unwrap_or(i64::MAX))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut stale = Vec::new();
        let mut listed = Vec::with_capacity(members.len());
        let mut pipe = redis::pipe();
        for member in members {
            match decode::<(String, String)>(member.as_bytes()) {
                Ok((name, key)) => {
                    pipe.cmd("HGET").arg(self.key(&name, "outbox")).arg(key);
                    listed.push(member);
                }
                Err(err) => {
                    tracing::error!("dropping outbox index member {member}: {err}");
                    stale.push(member);
                }
            }
        }
        let bodies: Vec<Option<String>> = if pipe.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut conn).await.map_err(unavailable)?
        };
        let mut entries = Vec::with_capacity(listed.len());
        for (member, body) in listed.into_iter().zip(bodies) {
            match body.map(|json| decode::<OutboxEntry>(json.as_bytes())) {
                Some(Ok(entry)) => entries.push(entry),
                Some(Err(err)) => tracing::error!("skipping outbox entry {member}: {err}"),
                None => stale.push(member),
            }
        }
        if !stale.is_empty() {
            redis::cmd("ZREM")
                .arg(self.global("outbox"))
                .arg(stale)
                .exec_async(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(entries)
    }

    async fn outbox_depth(&self) -> Result<Vec<(Priority, u64)>, StoreError> {
        self.ensure_indexes().await?;
        let mut pipe = redis::pipe();
        for priority in PRIORITIES {
            let rank = rank(priority);
            pipe.cmd("ZCOUNT")
                .arg(self.global("outbox"))
                .arg(rank * PRIORITY_SPAN)
                .arg(format!("({}", (rank + 1) * PRIORITY_SPAN));
        }
        let counts: Vec<u64> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(PRIORITIES.into_iter().zip(counts).collect())
    }

    async fn delivered(&self, partition: &PartitionKey, key: &str) -> Result<bool, StoreError> {
        let name = partition.to_string();
        let (removed,): (u64,) = redis::pipe()
            .cmd("ZREM")
            .arg(self.global("outbox"))
            .arg(outbox_member(&name, key)?)
            .ignore()
            .cmd("HDEL")
            .arg(self.key(&name, "outbox"))
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(removed == 1)
    }
}
