//! The benchmark's output: a table row per step as it completes, a summary,
//! and one JSON line with the figures last.

use serde_json::{Value, json};

use crate::bench::{Climb, Plan, Step};
use crate::latency::{LatencySummary, PanicLatency};

/// Prints what is about to be measured, and the table's header.
pub fn header(plan: &Plan) {
    println!(
        "vangnet-sim bench: {} orders ({} devices), {:.0} s per step",
        plan.orders,
        plan.orders * 2,
        plan.step.as_secs_f64()
    );
    println!(
        "{:<8} {:>9} {:>9} {:>6} {:>7} {:>7}  cpu % of one core (machine: % of all cores); panic→ack, panic→dispatch ms",
        "phase", "target/s", "offered/s", "lag s", "lost", "refused"
    );
}

/// Prints one step's row of `phase`.
pub fn step(phase: &str, step: &Step) {
    let cpu: Vec<String> = step
        .cpu
        .iter()
        .map(|(label, share)| match share {
            Some(share) => format!("{label} {share:.0}"),
            None => format!("{label} -"),
        })
        .collect();
    let percentiles = |l: LatencySummary| {
        format!(
            "p50 {:.1} p99 {:.1} max {:.1}",
            l.p50_ms, l.p99_ms, l.max_ms
        )
    };
    let latency = step.latency.map_or(String::new(), |l| {
        format!(
            "; ack {}; dispatch {}",
            percentiles(l.ack),
            percentiles(l.dispatch)
        )
    });
    let in_vangnet = step.in_vangnet_ms.map_or(String::new(), |(p50, p99)| {
        format!("; in vangnet p50 {p50:.1} p99 {p99:.1}")
    });
    println!(
        "{phase:<8} {:>9.0} {:>9.0} {:>6.2} {:>7} {:>7}  {}{latency}{in_vangnet}",
        step.target,
        step.rate(),
        step.lag_s,
        step.lost,
        step.refused,
        cpu.join(", ")
    );
}

/// Everything the benchmark measured.
#[derive(Debug)]
pub struct Report {
    /// The settings it ran with.
    pub plan: Plan,
    /// (a): the bare broker.
    pub broker: Climb,
    /// (b): Vangnet.
    pub vangnet: Climb,
    /// (c) before any load.
    pub idle_latency: PanicLatency,
    /// (d): the child's VmRSS with its orders loaded, before any load.
    pub rss_start_kib: Option<u64>,
    /// (d): the child's VmRSS at the end.
    pub rss_kib: Option<u64>,
}

impl Report {
    /// Prints the summary and the JSON line.
    pub fn print(&self) {
        let broker = self.broker.best().map_or(0.0, Step::rate);
        let vangnet_best = self.vangnet.best();
        let vangnet = vangnet_best.map_or(0.0, Step::rate);
        let ratio = (broker > 0.0).then(|| vangnet / broker);
        let loaded = vangnet_best.and_then(|step| step.latency);
        let in_vangnet = vangnet_best.and_then(|step| step.in_vangnet_ms);
        let loss = vangnet_best
            .or(self.vangnet.steps.first())
            .map_or(0, |step| step.lost);
        let rss_mib = self.rss_kib.map(|kib| kib as f64 / 1024.0);
        let rss_start_mib = self.rss_start_kib.map(|kib| kib as f64 / 1024.0);
        println!();
        println!(
            "(a) broker pass-through ceiling: {}{broker:.0} fixes/s (stopped by {})",
            at_least(&self.broker),
            self.broker.limit.label()
        );
        println!(
            "(b) vangnet sustained, no loss: {}{vangnet:.0} fixes/s with {} orders = {} of the broker (stopped by {})",
            at_least(&self.vangnet),
            self.plan.orders,
            ratio.map_or("-".into(), |r| format!("{:.0}%", r * 100.0)),
            self.vangnet.limit.label()
        );
        println!(
            "(c) panic→ack idle: {}; under the load of (b): {}",
            describe(Some(self.idle_latency.ack), "ack"),
            describe(loaded.map(|l| l.ack), "ack")
        );
        println!(
            "(c) panic→dispatch idle: {}; under the load of (b): {}",
            describe(Some(self.idle_latency.dispatch), "dispatch"),
            describe(loaded.map(|l| l.dispatch), "dispatch")
        );
        println!(
            "(c) of which inside vangnet, from decoding a panic to its effects stored, under the load of (b): {}",
            in_vangnet.map_or("-".into(), |(p50, p99)| format!(
                "p50 {p50:.1} ms, p99 {p99:.1} ms"
            ))
        );
        let mib = |rss: Option<f64>| rss.map_or("-".into(), |mib| format!("{mib:.0} MiB"));
        println!(
            "(d) vangnet resident memory with its orders loaded: {}; at the end: {}",
            mib(rss_start_mib),
            mib(rss_mib)
        );
        let broker_best = self.broker.best();
        println!(
            "(e) CPU µs per fix: bare broker at (a): {}; vangnet at (b): {}",
            describe_cpu(broker_best),
            describe_cpu(vangnet_best)
        );
        let figures = json!({
            "orders": self.plan.orders,
            "devices": self.plan.orders * 2,
            "step_seconds": self.plan.step.as_secs_f64(),
            "broker_fixes_per_s": broker.round(),
            "broker_limited_by": self.broker.limit.label(),
            "vangnet_fixes_per_s": vangnet.round(),
            "vangnet_limited_by": self.vangnet.limit.label(),
            "ratio": ratio.map(|r| (r * 1000.0).round() / 1000.0),
            "loss": loss,
            "panic_ack_idle_ms": latency_json(Some(self.idle_latency.ack)),
            "panic_ack_loaded_ms": latency_json(loaded.map(|l| l.ack)),
            "panic_dispatch_idle_ms": latency_json(Some(self.idle_latency.dispatch)),
            "panic_dispatch_loaded_ms": latency_json(loaded.map(|l| l.dispatch)),
            "panic_in_vangnet_loaded_ms": in_vangnet.map(|(p50, p99)| json!({"p50": p50, "p99": p99})),
            "vangnet_rss_start_mib": rss_start_mib.map(f64::round),
            "vangnet_rss_mib": rss_mib.map(f64::round),
            "broker_cpu_us_per_fix": cpu_json(broker_best),
            "vangnet_cpu_us_per_fix": cpu_json(vangnet_best),
            "orders_created": "through POST /api/v1/orders/import",
        });
        println!("{figures}");
    }
}

/// Each process's CPU per fix at `step`, and their sum, in words.
fn describe_cpu(step: Option<&Step>) -> String {
    let per_fix = step.map(Step::cpu_us_per_fix).unwrap_or_default();
    if per_fix.is_empty() {
        return "-".into();
    }
    let total: f64 = per_fix.iter().map(|(_, us)| us).sum();
    let each: Vec<String> = per_fix
        .iter()
        .map(|(label, us)| format!("{label} {us:.1}"))
        .collect();
    format!("{} = {total:.1} in all", each.join(" + "))
}

/// Each process's CPU per fix at `step` as a JSON object, or null.
fn cpu_json(step: Option<&Step>) -> Value {
    step.map_or(Value::Null, |step| {
        step.cpu_us_per_fix()
            .into_iter()
            .map(|(label, us)| (label.to_owned(), json!((us * 10.0).round() / 10.0)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    })
}

/// "at least " when a climb stopped before anything went wrong.
fn at_least(climb: &Climb) -> &'static str {
    if climb.limit.is_a_setting() {
        "at least "
    } else {
        ""
    }
}

/// Percentiles in words, or that no panic got its `answer`.
pub fn describe(latency: Option<LatencySummary>, answer: &str) -> String {
    match latency {
        Some(l) if l.count > 0 => format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} panics, {} unanswered)",
            l.p50_ms, l.p99_ms, l.max_ms, l.count, l.missed
        ),
        Some(l) => format!("no {answer} ({} panics unanswered)", l.missed),
        None => "-".into(),
    }
}

/// Percentiles as a JSON object, or null.
pub fn latency_json(latency: Option<LatencySummary>) -> Value {
    latency.map_or(Value::Null, |l| {
        json!({"p50": l.p50_ms, "p99": l.p99_ms, "max": l.max_ms, "count": l.count, "missed": l.missed})
    })
}
