//! Which partitions a device's messages go to, kept in step with the orders
//! in the store (other instances may change them) by polling its order epoch.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use vangnet_proto::order::OrderBody;
use vangnet_proto::{DeviceId, OrderId};

use crate::store::{PartitionKey, Store, StoreError};

#[derive(Default)]
struct Index {
    epoch: Option<u64>,
    orders: HashMap<OrderId, Arc<OrderBody>>,
    devices: HashMap<DeviceId, Vec<OrderId>>,
}

/// The stored orders, indexed by device.
#[derive(Default)]
pub struct OrderIndex {
    index: RwLock<Index>,
}

impl OrderIndex {
    /// Reloads the orders if the store's epoch moved; returns whether it did.
    pub async fn refresh<S: Store>(&self, store: &S) -> Result<bool, StoreError> {
        let epoch = store.orders_epoch().await?;
        if self.read().epoch == Some(epoch) {
            return Ok(false);
        }
        let mut index = Index {
            epoch: Some(epoch),
            ..Index::default()
        };
        for stored in store.orders().await? {
            let mut body: OrderBody = match serde_json::from_slice(&stored.body) {
                Ok(body) => body,
                Err(err) => {
                    tracing::error!(order = %stored.id, %err, "stored order is unreadable; skipped");
                    continue;
                }
            };
            body.id = Some(stored.id.clone());
            for device in body.victim_devices.iter().chain(&body.perpetrator_devices) {
                index
                    .devices
                    .entry(device.clone())
                    .or_default()
                    .push(stored.id.clone());
            }
            index.orders.insert(stored.id, Arc::new(body));
        }
        metrics::gauge!("vangnet_orders").set(index.orders.len() as f64);
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = index;
        Ok(true)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The orders `device` belongs to, with their partitions.
    pub fn orders_of(&self, device: &DeviceId) -> Vec<(PartitionKey, Arc<OrderBody>)> {
        let index = self.read();
        let ids = index
            .devices
            .get(device)
            .map(Vec::as_slice)
            .unwrap_or_default();
        ids.iter()
            .filter_map(|id| {
                let body = index.orders.get(id)?;
                Some((PartitionKey::Order(id.clone()), body.clone()))
            })
            .collect()
    }

    /// One order's current body, if it is active.
    pub fn get(&self, id: &OrderId) -> Option<Arc<OrderBody>> {
        self.read().orders.get(id).cloned()
    }

    /// Every order with its partition.
    pub fn all(&self) -> Vec<(PartitionKey, Arc<OrderBody>)> {
        self.read()
            .orders
            .iter()
            .map(|(id, body)| (PartitionKey::Order(id.clone()), body.clone()))
            .collect()
    }

    /// How many orders there are.
    pub fn len(&self) -> usize {
        self.read().orders.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
