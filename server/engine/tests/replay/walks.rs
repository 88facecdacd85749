//! A device-month of a perpetrator wandering near an exclusion zone or near
//! the victim at home, fixes every 30 s, with a dozen walks into the zone or
//! within the minimum distance. Besides the shared figures, checks that no
//! multipath outlier's alarm is dropped (each stays at least a P2).
//!
//! Noise model: each fix reports `acc` uniform in 5–20 m and is off by a
//! Gaussian error of σ = acc / 1.5 per axis (`acc` as a 68 % radius). One
//! fix in 500 is a multipath outlier: thrown 150–400 m in a random direction
//! while claiming 10–20 m; the next fix is normal again.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vangnet_engine::{Engine, EngineConfig, Event};
use vangnet_geodesy::{Position, Zone, distance_m};
use vangnet_proto::order::ZoneBody;
use vangnet_proto::{AlertKind, Fix};

use crate::common::walk::{Visits, Walker, report};
use crate::common::*;
use crate::{Judge, position, reported};

const FIX_INTERVAL_S: u64 = 30;
const MONTH_S: u64 = 30 * 24 * 3600;
const OUTLIER_RATE: f64 = 1.0 / 500.0;
const EPISODES: u64 = 12;
const ALARM_M: f64 = 500.0;

/// What he must keep away from.
enum Target {
    /// An exclusion zone; the victim stays 6 km away.
    Zone(ZoneBody),
    /// The victim at home, at the origin, `ALARM_M` the minimum distance.
    Victim,
}

impl Target {
    /// How far (m) `perpetrator` is beyond the target's limit, `victim` where the victim is.
    fn beyond(&self, zone: Option<&Zone>, perpetrator: Position, victim: Position) -> f64 {
        match zone {
            Some(zone) => zone.signed_distance(perpetrator),
            None => distance_m(perpetrator, victim) - ALARM_M,
        }
    }

    fn alarm(&self) -> AlertKind {
        match self {
            Self::Zone(_) => AlertKind::ZoneAlarm,
            Self::Victim => AlertKind::ProximityAlarm,
        }
    }
}

/// Outliers, and what became of the alarms they could raise.
#[derive(Default)]
struct Outliers {
    sent: u64,
    /// Outliers certainly inside while he was not: a literal reading raises a false P1.
    literal_false_p1: u64,
    /// Outliers that could be inside the zone.
    alarms: u64,
    /// Of those, the ones whose zone alarm was open after the fix.
    alarms_kept: u64,
}

/// Runs one device-month against `target`, the walk keeping between `r_min`
/// and `r_max` from the origin outside the planned violations, and coming to
/// 150 m in them.
fn replay(seed: u64, target: Target, r_min: f64, r_max: f64) -> (crate::Figures, Outliers) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut engine = Engine::new(EngineConfig::default());
    let (zone, body, victim_home) = match &target {
        Target::Zone(zone) => (
            Some(Zone::of(&zone.geometry, zone.radius_m).unwrap()),
            order("o1", Some((1000.0, 2000.0)), vec![zone.clone()]),
            [6_000.0, 0.0],
        ),
        Target::Victim => (
            None,
            order("o1", Some((ALARM_M, 1000.0)), vec![]),
            [0.0, 0.0],
        ),
    };
    engine.put_order(&body, ts(0)).unwrap();
    let mut walker = Walker {
        r: 600.0,
        theta: 0.0,
        v_r: 0.0,
        v_t: 0.0,
        r_min,
        r_max,
    };
    let mut victim_fix: Option<(Fix, bool)> = None;

    let mut visits = Visits::new(EPISODES, MONTH_S, FIX_INTERVAL_S);
    let mut judge = Judge::default();
    let mut outliers = Outliers::default();
    let (mut seq_p, mut seq_v) = (0, 0);

    let mut t = 0;
    while t < MONTH_S {
        visits.step(&mut walker, &mut rng, t);
        let truth_xy = walker.xy();
        let beyond = target.beyond(zone.as_ref(), position(truth_xy), position(victim_home));
        judge.truth(t, beyond < 0.0);

        let outlier = rng.random::<f64>() < OUTLIER_RATE;
        seq_p += 1;
        let fix = report(&mut rng, seq_p, t, truth_xy, outlier);
        // The victim as the engine last saw her, with how far she may have
        // drifted since.
        let drift_mps = EngineConfig::default().drift_mps;
        let (victim, victim_trusted) =
            victim_fix
                .as_ref()
                .map_or(((position(victim_home), 0.0), false), |(fix, outlier)| {
                    let age_s = (ts(t).millis() - fix.ts.millis()) as f64 / 1000.0;
                    ((reported(fix), fix.acc.get() + drift_mps * age_s), !outlier)
                });
        let d = target.beyond(zone.as_ref(), reported(&fix), victim.0);
        let acc = match target {
            Target::Zone(_) => fix.acc.get(),
            Target::Victim => fix.acc.get() + victim.1,
        };
        let trusted = !outlier && (victim_trusted || matches!(target, Target::Zone(_)));
        judge.fix(t, trusted && d + acc <= 0.0);
        if outlier {
            outliers.sent += 1;
            outliers.literal_false_p1 += u64::from(!judge.inside && d + acc <= 0.0);
        }
        let effects = engine.handle(&dev("p1"), Event::Fixes(vec![fix]), ts(t));
        judge.effects(t, &effects);
        if outlier && d - acc <= 0.0 {
            outliers.alarms += 1;
            let kept = engine
                .open_alerts()
                .any(|a| a.slot.kind == target.alarm() && a.current().cleared_at.is_none());
            outliers.alarms_kept += u64::from(kept);
        }

        // The victim's fix, every other interval, at home.
        if t % (2 * FIX_INTERVAL_S) == 0 {
            seq_v += 1;
            let outlier = rng.random::<f64>() < OUTLIER_RATE;
            let fix = report(&mut rng, seq_v, t, victim_home, outlier);
            let effects = engine.handle(&dev("v1"), Event::Fixes(vec![fix.clone()]), ts(t));
            judge.effects(t, &effects);
            victim_fix = Some((fix, outlier));
        }
        if t % 60 == 0 {
            engine.tick(ts(t));
        }
        t += FIX_INTERVAL_S;
    }
    (judge.figures(MONTH_S), outliers)
}

fn check(name: &str, (figures, outliers): (crate::Figures, Outliers)) {
    println!(
        "{name}: {} outliers; a literal reading would raise {} false P1; \
         outlier alarms kept at P2 or above: {} / {}",
        outliers.sent, outliers.literal_false_p1, outliers.alarms_kept, outliers.alarms,
    );
    assert!(figures.fixes >= 86_000, "one device-month of fixes");
    figures.check(name, FIX_INTERVAL_S, EPISODES);
    assert_eq!(
        outliers.alarms_kept, outliers.alarms,
        "no outlier's alarm dropped"
    );
}

#[test]
fn a_device_month_near_a_circle_zone_raises_every_violation_and_no_false_p1() {
    check(
        "walks, circle",
        replay(
            17,
            Target::Zone(circle("home", 0.0, 0.0, 250.0, 750.0)),
            350.0,
            900.0,
        ),
    );
}

#[test]
fn a_device_month_near_a_polygon_zone_raises_every_violation_and_no_false_p1() {
    check(
        "walks, polygon",
        replay(
            29,
            Target::Zone(square("work", 0.0, 0.0, 250.0, 500.0)),
            460.0,
            900.0,
        ),
    );
}

#[test]
fn a_device_month_near_the_victim_at_home_raises_every_violation_and_no_false_p1() {
    check("walks, victim", replay(37, Target::Victim, 620.0, 1_200.0));
}
