//! Protection orders on Redis: `P:{orders}` and its epoch, written by
//! scripts that append the change's audit entry in the same step.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};
use vangnet_proto::OrderId;

use super::{RedisStore, unavailable};
use crate::audit_chain::Draft;
use crate::store::{OrderChange, OrderStore, OrderWrite, StoreError, StoredOrder};

/// Writes an order and its audit entry if the orders' epoch is as expected.
static WRITE_ORDER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("scripts/audit_chain.lua"),
        include_str!("scripts/write_order.lua")
    ))
});
/// Deletes an order with its audit entry and moves the epoch on.
static DELETE_ORDER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("scripts/audit_chain.lua"),
        include_str!("scripts/delete_order.lua")
    ))
});

/// What the order scripts answer when the audit chain moved before they ran.
const AUDIT_MOVED: i64 = -2;

impl OrderStore for RedisStore {
    async fn write_order(
        &self,
        order: &StoredOrder,
        change: OrderChange,
        epoch: u64,
        audit: &Draft,
    ) -> Result<OrderWrite, StoreError> {
        let change = match change {
            OrderChange::Create => "create",
            OrderChange::Replace => "replace",
        };
        let written = self
            .with_audit_entry(&WRITE_ORDER, audit, |invocation| {
                invocation
                    .arg(order.id.as_str())
                    .arg(order.body.as_slice())
                    .arg(epoch.to_string())
                    .arg(change);
            })
            .await?;
        Ok(match written {
            1 => OrderWrite::Written,
            0 => OrderWrite::Exists,
            _ => OrderWrite::Moved,
        })
    }

    async fn put_order(&self, order: &StoredOrder) -> Result<(), StoreError> {
        redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(self.orders_key())
            .arg(order.id.as_str())
            .arg(order.body.as_slice())
            .ignore()
            .cmd("INCR")
            .arg(self.epoch_key())
            .ignore()
            .exec_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn delete_order(&self, id: &OrderId, audit: &Draft) -> Result<bool, StoreError> {
        let deleted = self
            .with_audit_entry(&DELETE_ORDER, audit, |invocation| {
                invocation.arg(id.as_str());
            })
            .await?;
        Ok(deleted == 1)
    }

    async fn order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let body: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.orders_key())
            .arg(id.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(body.map(|body| StoredOrder {
            id: id.clone(),
            body,
        }))
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError> {
        let all: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.orders_key())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let mut orders: Vec<StoredOrder> = all
            .into_iter()
            .map(|(id, body)| StoredOrder {
                id: OrderId::new(id),
                body,
            })
            .collect();
        orders.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(orders)
    }

    async fn orders_epoch(&self) -> Result<u64, StoreError> {
        let epoch: Option<u64> = redis::cmd("GET")
            .arg(self.epoch_key())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(epoch.unwrap_or(0))
    }
}

impl RedisStore {
    /// Runs an order script on the orders, their epoch and the audit chain
    /// with the arguments `args` adds, then `audit`'s entry at the chain's
    /// end; builds the entry again while other writers move the chain.
    async fn with_audit_entry(
        &self,
        script: &Script,
        audit: &Draft,
        args: impl Fn(&mut ScriptInvocation<'_>),
    ) -> Result<i64, StoreError> {
        loop {
            let run = self.audit_run(audit).await?;
            let mut invocation = script.prepare_invoke();
            invocation
                .key(self.orders_key())
                .key(self.epoch_key())
                .key(self.audit_key("head"))
                .key(self.audit_key("entries"));
            args(&mut invocation);
            self.run_args(&mut invocation, &run)?;
            let answer: i64 = invocation
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            if answer != AUDIT_MOVED {
                return Ok(answer);
            }
        }
    }
}
