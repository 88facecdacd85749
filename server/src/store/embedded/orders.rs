//! Protection orders in the embedded store: [`ORDERS`] and the epoch in [`COUNTERS`].

use redb::{ReadableTable, WriteTransaction};
use vangnet_proto::OrderId;

use super::audit_log::append_in;
use super::{COUNTERS, EmbeddedStore, ORDERS, db_error};
use crate::audit_chain::Draft;
use crate::store::{OrderChange, OrderStore, OrderWrite, StoreError, StoredOrder};

/// The counter in [`COUNTERS`] that moves on with every order change.
pub(super) const ORDERS_EPOCH: &str = "orders_epoch";

impl OrderStore for EmbeddedStore {
    async fn write_order(
        &self,
        order: &StoredOrder,
        change: OrderChange,
        epoch: u64,
        audit: &Draft,
    ) -> Result<OrderWrite, StoreError> {
        let order = order.clone();
        let (audit, key) = (audit.clone(), self.seal_key.clone());
        self.write(move |txn| {
            let mut orders = txn.open_table(ORDERS).map_err(db_error)?;
            let exists = orders.get(order.id.as_str()).map_err(db_error)?.is_some();
            if change == OrderChange::Create && exists {
                return Ok(OrderWrite::Exists);
            }
            if orders_epoch(txn)? != epoch {
                return Ok(OrderWrite::Moved);
            }
            append_in(txn, audit, key.as_ref())?;
            orders
                .insert(order.id.as_str(), order.body.as_slice())
                .map_err(db_error)?;
            bump_orders_epoch(txn)?;
            Ok(OrderWrite::Written)
        })
        .await
    }

    async fn put_order(&self, order: &StoredOrder) -> Result<(), StoreError> {
        let order = order.clone();
        self.write(move |txn| {
            txn.open_table(ORDERS)
                .map_err(db_error)?
                .insert(order.id.as_str(), order.body.as_slice())
                .map_err(db_error)?;
            bump_orders_epoch(txn)
        })
        .await
    }

    async fn delete_order(&self, id: &OrderId, audit: &Draft) -> Result<bool, StoreError> {
        let id = id.clone();
        let (audit, key) = (audit.clone(), self.seal_key.clone());
        self.write(move |txn| {
            let deleted = txn
                .open_table(ORDERS)
                .map_err(db_error)?
                .remove(id.as_str())
                .map_err(db_error)?
                .is_some();
            if deleted {
                append_in(txn, audit, key.as_ref())?;
                bump_orders_epoch(txn)?;
            }
            Ok(deleted)
        })
        .await
    }

    async fn order(&self, id: &OrderId) -> Result<Option<StoredOrder>, StoreError> {
        let id = id.clone();
        self.read(move |txn| {
            let orders = txn.open_table(ORDERS).map_err(db_error)?;
            let body = orders.get(id.as_str()).map_err(db_error)?;
            Ok(body.map(|body| StoredOrder {
                id,
                body: body.value().to_vec(),
            }))
        })
        .await
    }

    async fn orders(&self) -> Result<Vec<StoredOrder>, StoreError> {
        self.read(|txn| {
            let orders = txn.open_table(ORDERS).map_err(db_error)?;
            orders
                .iter()
                .map_err(db_error)?
                .map(|item| {
                    let (id, body) = item.map_err(db_error)?;
                    Ok(StoredOrder {
                        id: OrderId::new(id.value()),
                        body: body.value().to_vec(),
                    })
                })
                .collect()
        })
        .await
    }

    async fn orders_epoch(&self) -> Result<u64, StoreError> {
        self.read(|txn| {
            let counters = txn.open_table(COUNTERS).map_err(db_error)?;
            let epoch = counters.get(ORDERS_EPOCH).map_err(db_error)?;
            Ok(epoch.map_or(0, |epoch| epoch.value()))
        })
        .await
    }
}

/// The orders' epoch, inside a write.
fn orders_epoch(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let counters = txn.open_table(COUNTERS).map_err(db_error)?;
    let epoch = counters.get(ORDERS_EPOCH).map_err(db_error)?;
    Ok(epoch.map_or(0, |epoch| epoch.value()))
}

/// Moves the orders' epoch on.
fn bump_orders_epoch(txn: &WriteTransaction) -> Result<(), StoreError> {
    let epoch = orders_epoch(txn)?;
    let mut counters = txn.open_table(COUNTERS).map_err(db_error)?;
    counters.insert(ORDERS_EPOCH, epoch + 1).map_err(db_error)?;
    Ok(())
}
