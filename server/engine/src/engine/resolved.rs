//! The resolved alerts an engine still answers for: the most recent few, so
//! that an act on one is refused with its status while memory stays bounded
//! (the service's store keeps every alert).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use vangnet_proto::AlertId;

use crate::alert::Alert;

/// Resolved alerts kept per engine.
pub const RESOLVED_KEPT: usize = 64;

/// The last [`RESOLVED_KEPT`] alerts resolved, by id.
#[derive(Debug, Clone, Default)]
pub struct RecentlyResolved {
    alerts: FxHashMap<AlertId, Alert>,
    order: VecDeque<AlertId>,
}

impl RecentlyResolved {
    /// Keeps `alerts`, forgetting the oldest beyond [`RESOLVED_KEPT`].
    pub fn extend(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        for alert in alerts {
            let id = alert.id().clone();
            if self.alerts.insert(id.clone(), alert).is_none() {
                self.order.push_back(id);
            }
            while self.order.len() > RESOLVED_KEPT {
                if let Some(oldest) = self.order.pop_front() {
                    self.alerts.remove(&oldest);
                }
            }
        }
    }

    /// The resolved alert `id`, if still kept.
    pub fn get(&self, id: &AlertId) -> Option<&Alert> {
        self.alerts.get(id)
    }

    /// Every resolved alert kept.
    pub fn values(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }
}
