//! The soak's output: what is about to run, then a table of the memory
//! samples, the verdict, and one JSON line with the figures last.

use serde_json::json;

use super::Plan;

/// How far from their mean the last third's samples may lie, as a share of it.
const FLAT_TOLERANCE: f64 = 0.05;

/// Prints what is about to run.
pub fn header(plan: &Plan) {
    println!(
        "vangnet-sim soak: {} orders ({} devices, {} visitors), {:.0} fixes/s for {:.0} s, a panic every {:.1} s, memory sampled every {:.0} s",
        plan.orders,
        plan.orders * 2,
        plan.visitors,
        plan.rate,
        plan.duration.as_secs_f64(),
        plan.panic_every.as_secs_f64(),
        plan.sample_every.as_secs_f64()
    );
}

/// One sample of Vangnet and the dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the traffic began.
    pub at_s: f64,
    /// Vangnet's resident memory (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Location messages Vangnet has taken in (`vangnet_messages_total{kind="loc"}`).
    pub processed: u64,
    /// Alerts dispatched so far.
    pub raised: u64,
    /// Alerts the dispatcher resolved so far.
    pub resolved: u64,
}

/// The resident memory of the samples of the last third of the run, MiB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastThird {
    /// How many samples it holds.
    pub samples: usize,
    /// Its first sample.
    pub first: f64,
    /// Its last sample.
    pub last: f64,
    /// The lowest.
    pub min: f64,
    /// The highest.
    pub max: f64,
    /// The mean.
    pub mean: f64,
}

impl LastThird {
    /// The samples taken from two thirds of `duration_s` on, if any.
    pub fn of(samples: &[Sample], duration_s: f64) -> Option<Self> {
        let mib: Vec<f64> = samples
            .iter()
            .filter(|sample| sample.at_s >= duration_s * 2.0 / 3.0)
            .map(|sample| sample.rss_kib as f64 / 1024.0)
            .collect();
        Some(Self {
            samples: mib.len(),
            first: *mib.first()?,
            last: *mib.last()?,
            min: mib.iter().copied().fold(f64::INFINITY, f64::min),
            max: mib.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean: mib.iter().sum::<f64>() / mib.len() as f64,
        })
    }

    /// Every sample within ±5 % of the mean.
    pub fn flat(&self) -> bool {
        self.max <= self.mean * (1.0 + FLAT_TOLERANCE)
            && self.min >= self.mean * (1.0 - FLAT_TOLERANCE)
    }
}

/// Everything a soak measured.
#[derive(Debug)]
pub struct SoakReport {
    /// The settings it ran with.
    pub plan: Plan,
    /// How long the fixes were offered, s.
    pub seconds: f64,
    /// Fixes published and acknowledged by the broker.
    pub offered: u64,
    /// Fixes Vangnet took in, once the backlog drained.
    pub processed: u64,
    /// Messages Vangnet rejected or rate-limited.
    pub refused: u64,
    /// Panics pressed.
    pub panics: u64,
    /// The dispatcher's alerts raised, cleared, resolved and acts failed.
    pub alerts: (u64, u64, u64, u64),
    /// Vangnet's memory and counters through the run, the first before any traffic.
    pub samples: Vec<Sample>,
}

impl SoakReport {
    /// Prints the table, the verdict and the JSON line; returns the verdict:
    /// no fix lost and memory flat.
    pub fn print(&self) -> bool {
        println!(
            "{:>6} {:>8} {:>12} {:>7} {:>9}",
            "minute", "RSS MiB", "processed/s", "raised", "resolved"
        );
        let mut previous: Option<&Sample> = None;
        for sample in &self.samples {
            let rate = previous.map_or("-".into(), |before| {
                let rate = (sample.processed.saturating_sub(before.processed)) as f64
                    / (sample.at_s - before.at_s).max(1e-3);
                format!("{rate:.0}")
            });
            println!(
                "{:>6.1} {:>8.1} {:>12} {:>7} {:>9}",
                sample.at_s / 60.0,
                sample.rss_kib as f64 / 1024.0,
                rate,
                sample.raised,
                sample.resolved
            );
            previous = Some(sample);
        }
        let duration_s = self.plan.duration.as_secs_f64();
        let last_third = LastThird::of(&self.samples, duration_s);
        let flat = last_third.is_some_and(|third| third.flat());
        let lost = self.offered.saturating_sub(self.processed);
        let seconds = self.seconds.max(1e-3);
        let in_window = match (self.samples.first(), self.samples.last()) {
            (Some(first), Some(last)) => last.processed.saturating_sub(first.processed),
            _ => 0,
        };
        let (raised, cleared, resolved, failed) = self.alerts;
        let mib = |kib: Option<u64>| kib.map(|kib| round1(kib as f64 / 1024.0));
        println!(
            "fixes: {} offered ({:.0}/s), {} processed ({:.0}/s while offered), {lost} lost, {} refused",
            self.offered,
            self.offered as f64 / seconds,
            self.processed,
            in_window as f64 / seconds,
            self.refused
        );
        println!(
            "alerts: {raised} raised, {cleared} cleared, {resolved} resolved by the dispatcher, {} still open, {failed} acts failed; {} panics pressed",
            raised.saturating_sub(resolved),
            self.panics
        );
        println!(
            "memory over the last third: {}; {}",
            last_third.map_or("no samples".into(), |t| format!(
                "{:.1} to {:.1} MiB, mean {:.1} MiB, {} samples",
                t.min, t.max, t.mean, t.samples
            )),
            if flat {
                "flat (within ±5 % of the mean)"
            } else {
                "NOT flat (beyond ±5 % of the mean)"
            }
        );
        let figures = json!({
            "orders": self.plan.orders,
            "devices": self.plan.orders * 2,
            "visitors": self.plan.visitors,
            "duration_s": round1(self.seconds),
            "rate_target": self.plan.rate,
            "offered_fixes": self.offered,
            "offered_per_s": (self.offered as f64 / seconds).round(),
            "processed_fixes": self.processed,
            "processed_per_s": (in_window as f64 / seconds).round(),
            "lost_fixes": lost,
            "refused": self.refused,
            "panics_pressed": self.panics,
            "alerts_raised": raised,
            "alerts_cleared": cleared,
            "alerts_resolved": resolved,
            "alerts_open_at_end": raised.saturating_sub(resolved),
            "dispatcher_acts_failed": failed,
            "samples": self.samples.len(),
            "rss_start_mib": mib(self.samples.first().map(|s| s.rss_kib)),
            "rss_end_mib": mib(self.samples.last().map(|s| s.rss_kib)),
            "last_third_rss_mib": last_third.map(|t| json!({
                "samples": t.samples, "first": round1(t.first), "last": round1(t.last),
                "min": round1(t.min), "max": round1(t.max), "mean": round1(t.mean),
            })),
            "flat": flat,
        });
        println!("{figures}");
        lost == 0 && flat
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(rss_mib: &[u64]) -> Vec<Sample> {
        rss_mib
            .iter()
            .enumerate()
            .map(|(n, mib)| Sample {
                at_s: n as f64 * 10.0,
                rss_kib: mib * 1024,
                processed: 0,
                raised: 0,
                resolved: 0,
            })
            .collect()
    }

    #[test]
    fn the_last_third_is_the_samples_from_two_thirds_of_the_run_on() {
        let third = LastThird::of(&samples(&[50, 90, 100, 100, 102, 98, 100]), 60.0).unwrap();
        assert_eq!(third.samples, 3);
        assert_eq!((third.first, third.last), (102.0, 100.0));
        assert_eq!((third.min, third.max, third.mean), (98.0, 102.0, 100.0));
        assert!(third.flat(), "growth before the last third does not count");
    }

    #[test]
    fn memory_beyond_five_percent_of_the_mean_is_not_flat() {
        let growing = LastThird::of(&samples(&[100, 100, 100, 100, 100, 106, 112]), 60.0).unwrap();
        assert!(!growing.flat());
        assert_eq!(LastThird::of(&samples(&[100]), 60.0), None);
    }
}
