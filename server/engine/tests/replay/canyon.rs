//! A device-month of a perpetrator who walks an hour a day along a street
//! 100 m outside the victim's home zone, his tag reporting every second,
//! through an urban canyon: bursts of 3–5 fixes all thrown 150–300 m north
//! (multipath off the same walls), many of them well inside home, each
//! claiming 10–20 m. On twelve days he truly walks into home and stays
//! 30–600 s. The rest of the day he is at his own address, reporting once a
//! minute, with the walks' noise and outliers.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vangnet_engine::{Engine, EngineConfig, Event};
use vangnet_geodesy::Zone;
use vangnet_proto::Fix;

use crate::common::walk::{gaussian, report};
use crate::common::*;
use crate::{Judge, position, reported};

const DAY_S: u64 = 24 * 3600;
const DAYS: u64 = 30;
const VIOLATIONS: u64 = 12;
const WALKING_MPS: f64 = 1.4;
const STREET_Y: f64 = -300.0;
const STREET_END_X: f64 = 600.0;
const BURST_RATE: f64 = 0.02;
const OUTLIER_RATE: f64 = 1.0 / 500.0;
const AT_HOME_INTERVAL_S: u64 = 60;

/// Where he truly is each second of a walk through `waypoints`, at walking
/// speed, staying `dwell_s` at each waypoint's end.
fn walk(waypoints: &[([f64; 2], u64)]) -> Vec<[f64; 2]> {
    let mut seconds = Vec::new();
    let mut here = waypoints[0].0;
    for &(to, dwell_s) in &waypoints[1..] {
        let (dx, dy) = (to[0] - here[0], to[1] - here[1]);
        let steps = (dx.hypot(dy) / WALKING_MPS).ceil() as usize;
        for step in 0..steps {
            let part = step as f64 / steps as f64;
            seconds.push([here[0] + dx * part, here[1] + dy * part]);
        }
        seconds.extend(std::iter::repeat_n(to, dwell_s as usize + 1));
        here = to;
    }
    seconds
}

/// A day's walk: up and down the street twice, detouring `into_home` for
/// that many seconds on the first leg.
fn outing(into_home: Option<u64>) -> Vec<[f64; 2]> {
    let (west, east) = ([-STREET_END_X, STREET_Y], [STREET_END_X, STREET_Y]);
    let mut waypoints = vec![(west, 0)];
    if let Some(dwell_s) = into_home {
        waypoints.extend([
            ([0.0, STREET_Y], 0),
            ([0.0, -100.0], dwell_s),
            ([0.0, STREET_Y], 0),
        ]);
    }
    waypoints.extend([(east, 0), (west, 0), (east, 0), (west, 0)]);
    walk(&waypoints)
}

/// A burst of multipath fixes: how many are left, and where they are thrown.
struct Burst {
    left: u32,
    north_m: f64,
}

/// A fix thrown `north_m` from the truth by multipath while claiming 10–20 m.
fn thrown(rng: &mut StdRng, seq: u64, t: u64, truth: [f64; 2], north_m: f64) -> Fix {
    fix(
        seq,
        t,
        truth[0] + 3.0 * gaussian(rng),
        truth[1] + north_m + 3.0 * gaussian(rng),
        rng.random_range(10.0..20.0),
    )
}

#[test]
fn a_device_month_through_an_urban_canyon_past_home_raises_every_visit_and_no_false_p1() {
    let home = circle("home", 0.0, 0.0, 200.0, 50.0);
    let truth = Zone::of(&home.geometry, home.radius_m).unwrap();
    let mut rng = StdRng::seed_from_u64(31);
    let mut engine = Engine::new(EngineConfig::default());
    engine
        .put_order(&order("o1", None, vec![home]), ts(0))
        .unwrap();
    let perpetrator = dev("p1");
    let mut judge = Judge::default();
    let (mut seq, mut bursts, mut thrown_inside) = (0, 0, 0);
    let mut burst: Option<Burst> = None;
    let mut send =
        |judge: &mut Judge, rng: &mut StdRng, t: u64, truth_xy: [f64; 2], in_town: bool| {
            judge.truth(t, truth.signed_distance(position(truth_xy)) < 0.0);
            seq += 1;
            if in_town && burst.is_none() && rng.random::<f64>() < BURST_RATE {
                bursts += 1;
                burst = Some(Burst {
                    left: rng.random_range(3..=5),
                    north_m: rng.random_range(150.0..300.0),
                });
            }
            let burst_fix = burst.is_some();
            let (fix, trusted) = match burst.as_mut() {
                Some(thrown_by) => {
                    thrown_by.left -= 1;
                    let fix = thrown(rng, seq, t, truth_xy, thrown_by.north_m);
                    if thrown_by.left == 0 {
                        burst = None;
                    }
                    (fix, false)
                }
                None => {
                    let outlier = rng.random::<f64>() < OUTLIER_RATE;
                    (report(rng, seq, t, truth_xy, outlier), !outlier)
                }
            };
            let certainly_inside = truth.signed_distance(reported(&fix)) + fix.acc.get() <= 0.0;
            judge.fix(t, trusted && certainly_inside);
            thrown_inside += u64::from(burst_fix && !judge.inside && certainly_inside);
            let effects = engine.handle(&perpetrator, Event::Fixes(vec![fix]), ts(t));
            judge.effects(t, &effects);
            if t.is_multiple_of(60) {
                engine.tick(ts(t));
            }
        };

    let visit_days: Vec<u64> = (0..DAYS)
        .filter(|day| day % 5 < 2)
        .take(VIOLATIONS as usize)
        .collect();
    let his_address = [-STREET_END_X, STREET_Y];
    for day in 0..DAYS {
        let start = day * DAY_S;
        let into_home = visit_days.contains(&day).then(|| rng.random_range(30..600));
        let route = outing(into_home);
        let leaves = start + rng.random_range(8 * 3600..20 * 3600);
        let returns = leaves + route.len() as u64;
        let mut t = start;
        while t < leaves {
            send(&mut judge, &mut rng, t, his_address, false);
            t += AT_HOME_INTERVAL_S;
        }
        for (second, &truth_xy) in route.iter().enumerate() {
            send(&mut judge, &mut rng, leaves + second as u64, truth_xy, true);
        }
        let mut t = returns.next_multiple_of(AT_HOME_INTERVAL_S);
        while t < start + DAY_S {
            send(&mut judge, &mut rng, t, his_address, false);
            t += AT_HOME_INTERVAL_S;
        }
    }
    println!(
        "canyon: {bursts} bursts of 3–5 fixes thrown 150–300 m north; \
         {thrown_inside} of their fixes certainly inside home while he was not"
    );
    assert!(
        thrown_inside > 1_000,
        "the bursts put him in home thousands of times"
    );
    judge.figures(DAYS * DAY_S).check("canyon", 1, VIOLATIONS);
}
