//! Protection orders on Redis: `P:{orders}` and its epoch.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;
use vangnet_proto::OrderId;

use super::{RedisStore, unavailable};
use crate::store::{OrderChange, OrderStore, OrderWrite, StoreError, StoredOrder};

/// Writes an order if the orders' epoch is as expected.
static WRITE_ORDER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/write_order.lua")));
/// Deletes an order and moves the epoch on.
static DELETE_ORDER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/delete_order.lua")));

impl OrderStore for RedisStore {
    async fn write_order(
        &self,
        order: &StoredOrder,
        change: OrderChange,
        epoch: u64,
    ) -> Result<OrderWrite, StoreError> {
        let change = match change {
            OrderChange::Create => "create",
            OrderChange::Replace => "replace",
        };
        let written: i64 = WRITE_ORDER
            .key(self.orders_key())
            .key(self.epoch_key())
            .arg(order.id.as_str())
            .arg(order.body.as_slice())
            .arg(epoch.to_string())
            .arg(change)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
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

    async fn delete_order(&self, id: &OrderId) -> Result<bool, StoreError> {
        let deleted: i64 = DELETE_ORDER
            .key(self.orders_key())
            .key(self.epoch_key())
            .arg(id.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
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
