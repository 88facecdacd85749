//! Protection orders as the API stored them, and the epoch that tells a
//! writer whether they changed since it checked them.

use std::future::Future;

use vangnet_proto::OrderId;

use super::StoreError;
use crate::audit_chain::Draft;

/// A stored protection order, as the API received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    /// Its id.
    pub id: OrderId,
    /// The order body as JSON.
    pub body: Vec<u8>,
}

/// Whether an order write makes a new order or a new version of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderChange {
    /// A new order: refused when its id exists.
    Create,
    /// The order of that id, new or replaced.
    Replace,
}

/// How a conditional order write ([`OrderStore::write_order`]) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderWrite {
    /// Stored, and the epoch moved on.
    Written,
    /// Nothing stored: a [`OrderChange::Create`] of an id that exists.
    Exists,
    /// Nothing stored: the orders changed since the epoch given.
    Moved,
}

/// The protection orders, which every instance reads and the API writes.
pub trait OrderStore: Send + Sync + 'static {
    /// Stores `order` only if the orders' epoch is still `epoch`, so that
    /// what was checked against the orders of that epoch still holds when it
    /// is written (another instance may have changed them meanwhile);
    /// [`OrderChange::Create`] also refuses an id that exists. The order and
    /// its `audit` entry are written in one atomic step: both or neither.
    fn write_order(
        &self,
        order: &StoredOrder,
        change: OrderChange,
        epoch: u64,
        audit: &Draft,
    ) -> impl Future<Output = Result<OrderWrite, StoreError>> + Send;
    /// Replaces or creates an order without an audit entry: seeding a store
    /// outside the API (test fixtures, benchmarks).
    fn put_order(&self, order: &StoredOrder)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes an order's definition (its partition, alerts and history
    /// stay) and appends its `audit` entry in the same atomic step; `false`
    /// when there was no such order, and nothing is written.
    fn delete_order(
        &self,
        id: &OrderId,
        audit: &Draft,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// One order.
    fn order(
        &self,
        id: &OrderId,
    ) -> impl Future<Output = Result<Option<StoredOrder>, StoreError>> + Send;
    /// Every order, by id.
    fn orders(&self) -> impl Future<Output = Result<Vec<StoredOrder>, StoreError>> + Send;
    /// A number that changes whenever any order is created, replaced or deleted.
    fn orders_epoch(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
