//! Physically possible motion never hides a zone: any track whose speed stays
//! within `max_speed_mps` and whose acceleration stays within
//! `max_accel_mps2`, reported at any fix interval from 1 s to 10 minutes,
//! raises at least a `possible` zone alarm when its true straight segments
//! cross the zone or one of its fixes lies inside (docs/detection.md#outliers).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use vangnet_engine::EngineConfig;
use vangnet_engine::geometry::Circle;
use vangnet_proto::{AlertKind, Priority};

/// A stretch of constant acceleration: how long (s), how hard (share of the
/// model's bound) and which way (rad).
type Push = (u64, f64, f64);

/// Where the device truly is every `interval_s` seconds, `fixes` times:
/// integrated second by second from `speed` along `heading`, the velocity
/// kept within `v_max` by projection (which never adds acceleration).
fn positions(
    interval_s: u64,
    fixes: u64,
    speed: f64,
    heading: f64,
    pushes: &[Push],
    config: &EngineConfig,
) -> Vec<[f64; 2]> {
    let (a_max, v_max) = (config.max_accel_mps2, config.max_speed_mps);
    let mut p = [0.0, 0.0];
    let mut v = [speed * heading.cos(), speed * heading.sin()];
    let mut sampled = vec![p];
    let mut plan = pushes.iter().cycle();
    let (mut left, mut a) = (0, [0.0, 0.0]);
    for t in 1..=interval_s * (fixes - 1) {
        if left == 0
            && let Some(&(duration, share, angle)) = plan.next()
        {
            left = duration;
            a = [share * a_max * angle.cos(), share * a_max * angle.sin()];
        }
        left = left.saturating_sub(1);
        let mut next = [v[0] + a[0], v[1] + a[1]];
        let norm = next[0].hypot(next[1]);
        if norm > v_max {
            next = [next[0] * v_max / norm, next[1] * v_max / norm];
        }
        p = [p[0] + (v[0] + next[0]) / 2.0, p[1] + (v[1] + next[1]) / 2.0];
        v = next;
        if t % interval_s == 0 {
            sampled.push(p);
        }
    }
    sampled
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn physically_possible_motion_at_any_fix_interval_never_hides_a_zone_crossing_or_entry(
        interval_s in prop_oneof![1..=10u64, 10..=120u64, 120..=600u64],
        fixes in 3..=10u64,
        speed_share in 0.0..=1.0f64,
        heading in 0.0..std::f64::consts::TAU,
        pushes in proptest::collection::vec(
            (1..=120u64, 0.0..=1.0f64, 0.0..std::f64::consts::TAU),
            1..8,
        ),
        accs in proptest::collection::vec(5.0..=20.0f64, 10),
        segment in 0..9usize,
        along in 0.0..=1.0f64,
        offset in (-1.0..=1.0f64, -1.0..=1.0f64),
        radius_m in 10.0..=150.0f64,
    ) {
        let config = EngineConfig::default();
        let speed = speed_share * config.max_speed_mps;
        let track = positions(interval_s, fixes, speed, heading, &pushes, &config);
        let k = segment % (track.len() - 1);
        let (a, b) = (track[k], track[k + 1]);
        let centre = [
            a[0] + along * (b[0] - a[0]) + offset.0 * radius_m * 0.7,
            a[1] + along * (b[1] - a[1]) + offset.1 * radius_m * 0.7,
        ];
        let zone = Circle::new(at(centre[0], centre[1]), radius_m);
        let entered = track.iter().any(|p| zone.signed_distance(at(p[0], p[1])) <= 0.0);
        let crossed = track
            .windows(2)
            .any(|w| zone.crossed_by(at(w[0][0], w[0][1]), at(w[1][0], w[1][1])));
        prop_assume!(entered || crossed);

        let mut engine = engine_with(&[order(
            "o1",
            None,
            vec![circle("zone", centre[0], centre[1], radius_m, 50.0)],
        )]);
        let mut raised = false;
        for ((i, p), acc) in (0u64..).zip(&track).zip(&accs) {
            let sent = dispatches(&send(
                &mut engine,
                "p1",
                vec![fix(i + 1, i * interval_s, p[0], p[1], *acc)],
            ));
            raised |= sent
                .iter()
                .any(|s| s.kind == AlertKind::ZoneAlarm && s.priority >= Priority::P2);
        }
        prop_assert!(raised, "track {track:?} crosses or enters the zone unraised");
    }
}
