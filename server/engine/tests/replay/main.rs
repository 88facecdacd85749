//! Ground-truth replays: device-months of a perpetrator near exclusion zones,
//! one per kind of movement, with seeded GPS noise. Each checks that every
//! true violation is raised and that no P1 comes outside one. What truly
//! happened is measured with geodesics (`vangnet-geodesy`), not with the
//! engine's geometry.
//!
//! - `walks`: a walk near a zone or the victim with fixes every 30 s,
//!   multipath outliers and a dozen walks into the zone or within the
//!   minimum distance;
//! - `canyon`: an hour a day on foot past home in an urban canyon, the tag
//!   reporting every second, with bursts of 3–5 fixes thrown the same way;
//! - `passes`: a car pulling away from rest across a narrow zone, and a train
//!   at 40 m/s through a station zone, with fixes a minute apart.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod canyon;
mod passes;
mod walks;

use std::collections::HashMap;

use common::at;
use vangnet_engine::Effect;
use vangnet_geodesy::Position;
use vangnet_proto::{AlertId, AlertKind, Fix, Priority};

/// A P1 this long after a violation ended still counts as raising it.
const GRACE_S: u64 = 90;
/// A P1 this long before the perpetrator truly enters belongs to that
/// violation: he is walking in, within metres of the edge.
const LEAD_S: u64 = 60;
/// A violation shorter than this need not be raised as P1.
const SHORTEST_S: u64 = 30;

/// The position `xy` metres east and north of the origin, for the ground truth.
fn position(xy: [f64; 2]) -> Position {
    let p = at(xy[0], xy[1]);
    Position::new(p.lat, p.lon)
}

/// Where `fix` says the device is, for the ground truth.
fn reported(fix: &Fix) -> Position {
    Position::new(fix.lat.get(), fix.lon.get())
}

/// Follows one device-month: where the perpetrator truly was, what his fixes
/// showed, and the P1s the engine raised.
#[derive(Default)]
struct Judge {
    /// Each violation's true entry and exit (s).
    violations: Vec<(u64, Option<u64>)>,
    inside: bool,
    /// Per violation, the first fix that showed it: not an outlier, and
    /// certainly inside (`d + acc ≤ 0`).
    shown: Vec<Option<u64>>,
    /// Whether each alarm is a P1 not cleared.
    active_p1: HashMap<AlertId, bool>,
    /// When each P1 was raised, and its kind.
    p1s: Vec<(u64, AlertKind)>,
    fixes: u64,
}

/// What a device-month came to.
struct Figures {
    fixes: u64,
    false_p1: u64,
    violations: u64,
    violations_raised_p1: u64,
    worst_p1_delay_s: u64,
    /// Per alert kind, seconds from the first fix showing a violation to its
    /// P1; `None` for a violation shown but never raised as P1.
    p1_delays: HashMap<AlertKind, Vec<Option<u64>>>,
}

impl Judge {
    /// At `t` the perpetrator is truly inside a zone or not.
    fn truth(&mut self, t: u64, truly_inside: bool) {
        if truly_inside && !self.inside {
            self.violations.push((t, None));
        }
        if !truly_inside
            && self.inside
            && let Some(last) = self.violations.last_mut()
        {
            last.1 = Some(t);
        }
        self.inside = truly_inside;
    }

    /// At `t` a fix was sent; `shows` when it is no outlier and certainly
    /// inside the zone he truly is in.
    fn fix(&mut self, t: u64, shows: bool) {
        self.fixes += 1;
        if shows && self.inside {
            self.shown.resize(self.violations.len(), None);
            if let Some(first) = self.shown.last_mut() {
                first.get_or_insert(t);
            }
        }
    }

    /// Notes the alarms among `effects` that became P1 at `t`.
    fn effects(&mut self, t: u64, effects: &[Effect]) {
        for effect in effects {
            let Effect::Dispatch(body) = effect else {
                continue;
            };
            if !matches!(body.kind, AlertKind::ZoneAlarm | AlertKind::ProximityAlarm) {
                continue;
            }
            let now_p1 = body.priority == Priority::P1 && body.cleared_at.is_none();
            let was_p1 = self
                .active_p1
                .insert(body.alert_id.clone(), now_p1)
                .unwrap_or(false);
            if now_p1 && !was_p1 {
                self.p1s.push((t, body.kind));
            }
        }
    }

    /// The month's figures, the month ending at `end`.
    fn figures(self, end: u64) -> Figures {
        let window = |&(enter, exit): &(u64, Option<u64>)| {
            enter.saturating_sub(LEAD_S)..=exit.unwrap_or(end) + GRACE_S
        };
        let mut p1_delays: HashMap<AlertKind, Vec<Option<u64>>> = HashMap::new();
        for (violation, first) in self.violations.iter().zip(&self.shown) {
            let Some(first) = *first else { continue };
            let raised = self.p1s.iter().find(|(t, _)| window(violation).contains(t));
            let kind = raised.map_or(AlertKind::ZoneAlarm, |(_, kind)| *kind);
            p1_delays
                .entry(kind)
                .or_default()
                .push(raised.map(|(t, _)| t.saturating_sub(first)));
        }
        let false_p1 = self
            .p1s
            .iter()
            .filter(|(t, _)| !self.violations.iter().any(|v| window(v).contains(t)))
            .count() as u64;
        let (mut violations, mut violations_raised_p1, mut worst_p1_delay_s) = (0, 0, 0);
        for violation in &self.violations {
            let (enter, Some(exit)) = *violation else {
                continue;
            };
            if exit - enter < SHORTEST_S {
                continue;
            }
            violations += 1;
            if let Some((raised, _)) = self.p1s.iter().find(|(t, _)| window(violation).contains(t))
            {
                violations_raised_p1 += 1;
                worst_p1_delay_s = worst_p1_delay_s.max(raised.saturating_sub(enter));
            }
        }
        Figures {
            fixes: self.fixes,
            false_p1,
            violations,
            violations_raised_p1,
            worst_p1_delay_s,
            p1_delays,
        }
    }
}

impl Figures {
    /// Prints the figures and checks them: no false P1, every violation
    /// raised as P1, each within `fix_interval_s` and a second of the first
    /// fix showing it.
    fn check(&self, name: &str, fix_interval_s: u64, planned: u64) {
        println!(
            "{name}: {} fixes; {} false P1; {} / {} violations of {SHORTEST_S} s or more raised \
             as P1 (worst delay after entering {} s)",
            self.fixes,
            self.false_p1,
            self.violations_raised_p1,
            self.violations,
            self.worst_p1_delay_s,
        );
        for (kind, delays) in &self.p1_delays {
            assert!(
                delays
                    .iter()
                    .all(|d| d.is_some_and(|d| d <= fix_interval_s + 1)),
                "{kind:?}: a P1 within one fix interval and a second of the first fix showing it: {delays:?}"
            );
            let mut raised: Vec<u64> = delays.iter().flatten().copied().collect();
            raised.sort_unstable();
            let rank = |q: f64| {
                raised[((q * raised.len() as f64).ceil() as usize).clamp(1, raised.len()) - 1]
            };
            println!(
                "{name}: {kind:?} P1 after the first fix showing the violation, over {} violations: \
                 p50 {} s, p95 {} s, max {} s",
                delays.len(),
                rank(0.5),
                rank(0.95),
                rank(1.0),
            );
        }
        assert_eq!(self.false_p1, 0, "no false P1");
        assert!(
            self.violations >= planned,
            "the planned violations happened"
        );
        assert_eq!(
            self.violations_raised_p1, self.violations,
            "every violation raised as P1"
        );
    }
}
