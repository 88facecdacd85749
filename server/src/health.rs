//! What `/healthz` and `/readyz` report: whether the broker subscription and
//! the store are up, which dispatch routes are degraded, and which P1 or P2
//! alerts no route takes. Adapters set these; the HTTP layer only reads them.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Live readiness of the service's dependencies, shared by adapters and HTTP.
#[derive(Debug, Default)]
pub struct Health {
    broker: AtomicBool,
    store: AtomicBool,
    degraded_routes: Mutex<BTreeSet<String>>,
    stalled_lanes: Mutex<BTreeSet<&'static str>>,
    unrouted_alerts: Mutex<BTreeSet<String>>,
}

impl Health {
    /// Records whether the broker connection holds its subscriptions.
    pub fn set_broker(&self, up: bool) {
        self.broker.store(up, Ordering::Relaxed);
        metrics::gauge!("vangnet_broker_connected").set(f64::from(u8::from(up)));
    }

    /// Records whether the store answers.
    pub fn set_store(&self, up: bool) {
        self.store.store(up, Ordering::Relaxed);
        metrics::gauge!("vangnet_store_up").set(f64::from(u8::from(up)));
    }

    /// True when the broker is subscribed.
    pub fn broker(&self) -> bool {
        self.broker.load(Ordering::Relaxed)
    }

    /// True when the store answers.
    pub fn store(&self) -> bool {
        self.store.load(Ordering::Relaxed)
    }

    /// Records whether a dispatch route has an undelivered P1 older than 30 s.
    pub fn set_route_degraded(&self, route: &str, degraded: bool) {
        let mut routes = self
            .degraded_routes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if degraded {
            routes.insert(route.to_owned());
        } else {
            routes.remove(route);
        }
    }

    /// Dispatch routes that are degraded now.
    pub fn degraded_routes(&self) -> Vec<String> {
        let routes = self
            .degraded_routes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        routes.iter().cloned().collect()
    }

    /// Records whether an MQTT lane holds messages it has not finished for too long.
    pub fn set_lane_stalled(&self, lane: &'static str, stalled: bool) {
        let mut lanes = self.stalled_lanes.lock().unwrap_or_else(|p| p.into_inner());
        let changed = if stalled {
            lanes.insert(lane)
        } else {
            lanes.remove(lane)
        };
        if changed {
            if stalled {
                tracing::error!(
                    lane,
                    "the lane has taken no message it was given for too long"
                );
            } else {
                tracing::info!(lane, "the lane takes messages again");
            }
        }
        metrics::gauge!("vangnet_lane_stalled", "lane" => lane).set(f64::from(u8::from(stalled)));
    }

    /// The lanes that hold messages and finish none.
    pub fn stalled_lanes(&self) -> Vec<&'static str> {
        self.stalled_lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }

    /// True when no lane is stalled.
    fn lanes_flowing(&self) -> bool {
        self.stalled_lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Records whether an open P1 or P2 alert is one that no route takes,
    /// until a dispatcher acknowledges or resolves it; true when that changed.
    pub fn set_unrouted(&self, alert_id: &str, unrouted: bool) -> bool {
        let mut alerts = self
            .unrouted_alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let changed = if unrouted {
            alerts.insert(alert_id.to_owned())
        } else {
            alerts.remove(alert_id)
        };
        metrics::gauge!("vangnet_dispatch_unrouted_alerts").set(alerts.len() as f64);
        changed
    }

    /// How many open P1 or P2 alerts no route takes.
    pub fn unrouted_alerts(&self) -> usize {
        self.unrouted_alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// True when the service can take traffic.
    pub fn ready(&self) -> bool {
        self.broker() && self.store() && self.lanes_flowing()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_lane_makes_the_service_unready_until_it_flows_again() {
        let health = Health::default();
        health.set_broker(true);
        health.set_store(true);
        assert!(health.ready());

        health.set_lane_stalled("alarm", true);
        assert!(!health.ready());

        health.set_lane_stalled("alarm", false);
        assert!(health.ready());
    }
}
