//! The load run's output: what is about to run, then a table of what it
//! measured and one JSON line with the figures last.

use std::time::Duration;

use serde_json::json;

use super::{LoadArgs, Traffic};
use crate::report::{describe, latency_json};

/// Prints what is about to run.
pub fn header(args: &LoadArgs, orders: usize, sink_url: &str) {
    let rate = (2 * orders) as f64 / args.interval.as_secs_f64();
    println!(
        "vangnet-sim load: {orders} orders ({} devices), one fix per device every {:.1} s ({rate:.0} fixes/s) for {:.0} s, {}",
        orders * 2,
        args.interval.as_secs_f64(),
        args.duration.as_secs_f64(),
        args.panic_every.map_or("no panics".into(), |every| format!(
            "a panic every {:.1} s",
            every.as_secs_f64()
        ))
    );
    println!(
        "dispatch sink listening: {sink_url} (Vangnet's VANGNET_DISPATCH_URL must point here)"
    );
}

/// Everything a load run measured.
#[derive(Debug)]
pub struct LoadReport {
    /// Orders created.
    pub orders: usize,
    /// Time between two fixes of one device.
    pub interval: Duration,
    /// Seconds the orders took to create through the HTTP API.
    pub creation_s: f64,
    /// The traffic phase.
    pub traffic: Traffic,
}

impl LoadReport {
    /// Prints the table and the JSON line.
    pub fn print(&self) {
        let t = &self.traffic;
        let seconds = t.seconds.max(1e-3);
        let lost_fixes = t.offered.saturating_sub(t.processed);
        let p = t.panics;
        println!(
            "orders created through the HTTP API: {} in {:.1} s",
            self.orders, self.creation_s
        );
        println!(
            "{:<8} {:>10} {:>11} {:>10} {:>13} {:>8} {:>6}",
            "", "offered", "offered/s", "processed", "processed/s", "refused", "lost"
        );
        println!(
            "{:<8} {:>10} {:>11.0} {:>10} {:>13.0} {:>8} {:>6}",
            "fixes",
            t.offered,
            t.offered as f64 / seconds,
            t.processed,
            t.processed_in_window as f64 / seconds,
            t.refused,
            lost_fixes
        );
        println!(
            "{:<8} {:>10} {:>11} {:>10} {:>13} {:>8} {:>6}",
            "panics",
            p.count as u64 + p.missed,
            "",
            p.count,
            "",
            "",
            p.missed
        );
        println!(
            "panic→dispatch (at the sink): {}",
            describe(Some(p), "dispatch")
        );
        let figures = json!({
            "orders": self.orders,
            "devices": self.orders * 2,
            "interval_s": self.interval.as_secs_f64(),
            "duration_s": (t.seconds * 10.0).round() / 10.0,
            "offered_fixes": t.offered,
            "offered_per_s": (t.offered as f64 / seconds).round(),
            "processed_fixes": t.processed,
            "processed_per_s": (t.processed_in_window as f64 / seconds).round(),
            "refused": t.refused,
            "lost_fixes": lost_fixes,
            "panics_sent": p.count as u64 + p.missed,
            "panics_dispatched": p.count,
            "panics_lost": p.missed,
            "panic_dispatch_ms": latency_json(Some(p)),
            "orders_created_s": (self.creation_s * 10.0).round() / 10.0,
        });
        println!("{figures}");
    }
}
