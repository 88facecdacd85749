//! Which partitions a device's messages go to, kept in step with the orders
//! in the store (other instances may change them) by polling its order epoch;
//! and whether a new order may join the active ones (docs/api.md#orders).

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, RwLock};

use vangnet_proto::order::OrderBody;
use vangnet_proto::{DeviceId, OrderId, TimestampMs};

use crate::store::{OrderStore, PartitionKey, StoreError};

#[derive(Default, Clone)]
struct Index {
    epoch: Option<u64>,
    orders: HashMap<OrderId, Arc<OrderBody>>,
    devices: HashMap<DeviceId, Vec<OrderId>>,
}

impl Index {
    fn add(&mut self, id: OrderId, body: OrderBody) {
        for device in body.victim_devices.iter().chain(&body.perpetrator_devices) {
            self.devices
                .entry(device.clone())
                .or_default()
                .push(id.clone());
        }
        self.orders.insert(id, Arc::new(body));
    }
}

/// Why an order may not be stored beside the active orders; each names the
/// field of the device at fault, e.g. `victim_devices[1]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Clash {
    /// The device is in an active order of the other kind.
    #[error(
        "{field}: device {device} is in an active {other} order; a device is in real orders or in exercise orders, never both"
    )]
    Mixed {
        /// Where the device is in the order.
        field: String,
        /// The device.
        device: DeviceId,
        /// `real` or `exercise`: the kind of the order it is in.
        other: &'static str,
    },
    /// The device is in as many active orders as allowed.
    #[error("{field}: device {device} is in {limit} active orders already, the most allowed")]
    TooMany {
        /// Where the device is in the order.
        field: String,
        /// The device.
        device: DeviceId,
        /// The cap (`VANGNET_MAX_ORDERS_PER_DEVICE`).
        limit: usize,
    },
}

/// Whether `order` still applies or will: it has not passed its `valid_until`.
pub fn active(order: &OrderBody, now: TimestampMs) -> bool {
    order.valid_until.is_none_or(|until| now < until.0)
}

/// The stored orders, indexed by device.
#[derive(Default)]
pub struct OrderIndex {
    index: RwLock<Index>,
}

impl OrderIndex {
    /// Reloads the orders if the store's epoch moved; returns whether it did.
    pub async fn refresh<S: OrderStore>(&self, store: &S) -> Result<bool, StoreError> {
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
            index.add(stored.id, body);
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

    /// The epoch the index reflects, if `body`, stored as `id` (in place of
    /// any order of that id), keeps each of its devices in real or in
    /// exercise orders only and in at most `max_per_device` active orders.
    /// Writing it at that epoch ([`OrderStore::write_order`]) makes the check hold
    /// against every instance.
    pub fn admit(
        &self,
        id: &OrderId,
        body: &OrderBody,
        now: TimestampMs,
        max_per_device: NonZeroUsize,
    ) -> Result<u64, Clash> {
        let index = self.read();
        let sides = [
            ("victim_devices", &body.victim_devices),
            ("perpetrator_devices", &body.perpetrator_devices),
        ];
        for (side, devices) in sides {
            for (position, device) in devices.iter().enumerate() {
                let field = || format!("{side}[{position}]");
                let mut others = HashSet::new();
                let ids = index.devices.get(device).map(Vec::as_slice);
                for other_id in ids.unwrap_or_default().iter().filter(|o| *o != id) {
                    let Some(other) = index.orders.get(other_id) else {
                        continue;
                    };
                    if !active(other, now) {
                        continue;
                    }
                    if other.exercise != body.exercise {
                        return Err(Clash::Mixed {
                            field: field(),
                            device: device.clone(),
                            other: if other.exercise { "exercise" } else { "real" },
                        });
                    }
                    others.insert(other_id);
                }
                if others.len() >= max_per_device.get() {
                    return Err(Clash::TooMany {
                        field: field(),
                        device: device.clone(),
                        limit: max_per_device.get(),
                    });
                }
            }
        }
        Ok(index.epoch.unwrap_or(0))
    }

    /// A copy to check a run of new orders against, each inserted once
    /// stored so that the next is checked against it too.
    pub fn snapshot(&self) -> Self {
        Self {
            index: RwLock::new(self.read().clone()),
        }
    }

    /// The store's order epoch this index reflects.
    pub fn epoch(&self) -> u64 {
        self.read().epoch.unwrap_or(0)
    }

    /// Adds `body`, stored as `id`, to this index.
    pub fn insert(&self, id: OrderId, body: OrderBody) {
        self.index
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add(id, body);
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
}
