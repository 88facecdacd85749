//! The chaos run's output: what is about to run, then what it struck, what
//! the devices, the sink and the API saw, the failures found, and one JSON
//! line with every figure last.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::check::Verdict;
use super::faults::Struck;
use super::schedule::Counts;

/// Failures printed of each kind; the JSON line counts them all.
const SHOWN: usize = 20;

/// The run's settings, with the defaults of `--quick` or of a full run applied.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Seed of the fleet, the victims and the schedule.
    pub seed: u64,
    /// The faults.
    pub counts: Counts,
    /// The dispatch outage before compression.
    pub outage: Duration,
    /// Time compression of the outage and the dispatch timing.
    pub compress: u32,
    /// How long the load and the faults last.
    pub duration: Duration,
    /// Orders in the fleet.
    pub orders: usize,
    /// Fixes per second offered.
    pub rate: f64,
    /// Time between panics.
    pub panic_every: Duration,
}

impl Plan {
    /// The outage as it runs.
    pub fn compressed_outage(&self) -> Duration {
        self.outage / self.compress
    }
}

/// Everything the run measured.
#[derive(Debug)]
pub struct Figures {
    /// The settings.
    pub plan: Plan,
    /// The faults struck.
    pub struck: Struck,
    /// From the first fix to the verdict.
    pub seconds: f64,
    /// Fixes offered.
    pub offered: u64,
    /// Alarms sent again for want of a receipt.
    pub repeats: u64,
    /// The sink's summary line.
    pub sink: String,
    /// The checks.
    pub verdict: Verdict,
}

/// Prints what is about to run.
pub fn header(plan: &Plan, dir: &Path) {
    println!(
        "vangnet-sim chaos (seed {}): {} orders, {:.0} fixes/s and a panic every {:.1} s for {:.0} s; \
         {} kill -9 of vangnet, {} broker and {} Redis restarts, a dispatch outage of {:.0} s \
         compressed {}x to {:.1} s; in {}",
        plan.seed,
        plan.orders,
        plan.rate,
        plan.panic_every.as_secs_f64(),
        plan.duration.as_secs_f64(),
        plan.counts.kills,
        plan.counts.broker_restarts,
        plan.counts.redis_restarts,
        plan.outage.as_secs_f64(),
        plan.compress,
        plan.compressed_outage().as_secs_f64(),
        dir.display()
    );
}

impl Figures {
    /// Prints the report, the failures, the verdict and the JSON line.
    pub fn print(&self) {
        let (s, v) = (&self.struck, &self.verdict);
        println!(
            "struck: {} kill -9 (longest recovery {:.1} s), {} broker restarts ({:.1} s), \
             {} Redis restarts ({:.1} s), dispatch down {:.1} s",
            s.kills,
            s.longest_kill_recovery.as_secs_f64(),
            s.broker_restarts,
            s.longest_broker_recovery.as_secs_f64(),
            s.redis_restarts,
            s.longest_redis_recovery.as_secs_f64(),
            s.outage.as_secs_f64()
        );
        println!(
            "devices: {} fixes offered; {} panics pressed, {} receipted naming {} alerts, {} repeats for want of a receipt",
            self.offered, v.alarms, v.receipted, v.receipted_alerts, self.repeats
        );
        println!(
            "vangnet: {} alerts, {} revisions committed; {} routed to dispatch: {} delivered, {} thinned into a later delivery",
            v.alerts, v.revisions, v.routed, v.delivered, v.superseded
        );
        println!("sink: {}", self.sink);
        for (what, failures) in [
            (
                "receipted alarm not at the sink",
                &v.receipted_not_dispatched,
            ),
            ("revision not delivered", &v.undelivered),
            ("revision not streamed", &v.not_streamed),
            ("episode with two alerts", &v.duplicate_episodes),
        ] {
            for failure in failures.iter().take(SHOWN) {
                println!("FAIL {what}: {failure}");
            }
            if failures.len() > SHOWN {
                println!("FAIL {what}: {} more", failures.len() - SHOWN);
            }
        }
        println!(
            "{} in {:.0} s",
            if v.passed() { "PASSED" } else { "FAILED" },
            self.seconds
        );
        println!("{}", self.json());
    }

    fn json(&self) -> serde_json::Value {
        let (p, s, v) = (&self.plan, &self.struck, &self.verdict);
        json!({
            "seed": p.seed,
            "orders": p.orders,
            "rate": p.rate,
            "duration_s": p.duration.as_secs_f64(),
            "compress": p.compress,
            "outage_nominal_s": p.outage.as_secs_f64(),
            "outage_s": s.outage.as_secs_f64(),
            "kills": s.kills,
            "broker_restarts": s.broker_restarts,
            "redis_restarts": s.redis_restarts,
            "longest_kill_recovery_s": s.longest_kill_recovery.as_secs_f64(),
            "longest_broker_recovery_s": s.longest_broker_recovery.as_secs_f64(),
            "longest_redis_recovery_s": s.longest_redis_recovery.as_secs_f64(),
            "fixes_offered": self.offered,
            "alarms_sent": v.alarms,
            "alarms_receipted": v.receipted,
            "alerts_named_by_receipts": v.receipted_alerts,
            "alarm_repeats": self.repeats,
            "alarms_never_receipted": v.never_receipted.len(),
            "receipted_not_dispatched": v.receipted_not_dispatched.len(),
            "alerts": v.alerts,
            "revisions_committed": v.revisions,
            "revisions_routed": v.routed,
            "revisions_delivered": v.delivered,
            "revisions_thinned": v.superseded,
            "revisions_undelivered": v.undelivered.len(),
            "revisions_not_streamed": v.not_streamed.len(),
            "duplicate_episodes": v.duplicate_episodes.len(),
            "seconds": self.seconds,
            "passed": v.passed(),
        })
    }
}
