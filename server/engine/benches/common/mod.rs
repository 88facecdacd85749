//! A fleet of orders for the benchmarks: victims spread over the
//! Netherlands, each order with a 250 m circle around the victim's home and
//! a 50-vertex polygon around her work 2 km away, perpetrators 3–10 km away.
#![allow(dead_code, clippy::unwrap_used)]

use vangnet_engine::geometry::{GeoPoint, LocalFrame};
use vangnet_engine::{Engine, EngineConfig, Event};
use vangnet_proto::order::{Geometry, OrderBody, ProximityRule, ZoneBody};
use vangnet_proto::{DeviceId, Fix, Latitude, Longitude, Meters, OrderId, TimestampMs, ZoneId};

/// Device time of the first fix.
pub const T0: u64 = 1_764_331_200_000;

/// A tiny deterministic generator, so fixes cost nothing to make.
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn fix(seq: u64, ts_ms: u64, p: GeoPoint, acc: f64) -> Fix {
    Fix::new(
        seq,
        TimestampMs(ts_ms),
        Latitude::new(p.lat).unwrap(),
        Longitude::new(p.lon).unwrap(),
        Meters::new(acc).unwrap(),
    )
}

/// A closed ring of `n` vertices around `centre`, radius wobbling ±20 %.
pub fn ring(centre: GeoPoint, radius_m: f64, n: usize) -> Vec<Vec<f64>> {
    let frame = LocalFrame::new(centre);
    let mut ring: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            let r = radius_m * (1.0 + 0.2 * (7.0 * a).sin());
            let p = frame.unproject([r * a.cos(), r * a.sin()]);
            vec![p.lon, p.lat]
        })
        .collect();
    ring.push(ring[0].clone());
    ring
}

pub fn dev(id: String) -> DeviceId {
    DeviceId::parse(&id, "device").unwrap()
}

/// The devices of the fleet in the (shuffled) order they report, each with
/// where it stays, laid out in that order so that the benchmark itself reads
/// memory sequentially and only the engine's accesses are random.
pub struct Fleet {
    pub arrivals: Vec<(DeviceId, GeoPoint)>,
}

/// The places of `orders` orders, decided before any engine memory is used.
pub fn places(orders: usize) -> (Vec<GeoPoint>, Vec<GeoPoint>) {
    let mut rng = Lcg(7);
    let homes: Vec<GeoPoint> = (0..orders)
        .map(|_| GeoPoint::new(51.3 + 1.7 * rng.next(), 3.9 + 2.8 * rng.next()))
        .collect();
    let spots = homes
        .iter()
        .map(|home| {
            let a = rng.next() * std::f64::consts::TAU;
            let r = 3_000.0 + 7_000.0 * rng.next();
            LocalFrame::new(*home).unproject([r * a.cos(), r * a.sin()])
        })
        .collect();
    (homes, spots)
}

/// The order of number `i`.
pub fn order(i: usize, home: GeoPoint) -> OrderBody {
    let work = LocalFrame::new(home).unproject([2_000.0, 0.0]);
    OrderBody {
        id: Some(OrderId::new(format!("order-{i}"))),
        region: "rotterdam".into(),
        exercise: false,
        victim_devices: vec![dev(format!("v-{i}"))],
        perpetrator_devices: vec![dev(format!("p-{i}"))],
        proximity: Some(ProximityRule {
            alarm_m: 1_000.0,
            prealarm_m: 2_000.0,
        }),
        zones: vec![
            ZoneBody {
                id: ZoneId::new("home"),
                geometry: Geometry::Point(vec![home.lon, home.lat]),
                radius_m: Some(250.0),
                prealarm_m: 750.0,
            },
            ZoneBody {
                id: ZoneId::new("work"),
                geometry: Geometry::Polygon(vec![ring(work, 300.0, 50)]),
                radius_m: None,
                prealarm_m: 500.0,
            },
        ]
        .into(),
        valid_from: None,
        valid_until: None,
        warn_perpetrator: Default::default(),
    }
}

/// Builds the engine with every order and one fix of each device.
pub fn build(homes: Vec<GeoPoint>, perpetrator_spots: Vec<GeoPoint>) -> (Engine, Fleet) {
    let mut engine = Engine::new(EngineConfig::default());
    let now = TimestampMs(T0);
    for (i, home) in homes.iter().enumerate() {
        engine.put_order(&order(i, *home), now).unwrap();
    }
    let victims: Vec<DeviceId> = (0..homes.len()).map(|i| dev(format!("v-{i}"))).collect();
    let perpetrators: Vec<DeviceId> = (0..homes.len()).map(|i| dev(format!("p-{i}"))).collect();
    for i in 0..homes.len() {
        engine.handle(
            &victims[i],
            Event::Fixes(vec![fix(0, T0, homes[i], 10.0)]),
            now,
        );
        let first = fix(0, T0, perpetrator_spots[i], 10.0);
        engine.handle(&perpetrators[i], Event::Fixes(vec![first]), now);
    }
    let mut rng = Lcg(13);
    let mut arrival: Vec<usize> = (0..2 * homes.len()).collect();
    for i in (1..arrival.len()).rev() {
        let j = (rng.next() * (i + 1) as f64) as usize;
        arrival.swap(i, j);
    }
    let n = homes.len();
    let arrivals = arrival
        .into_iter()
        .map(|index| {
            if index < n {
                (dev(format!("v-{index}")), homes[index])
            } else {
                (
                    dev(format!("p-{}", index - n)),
                    perpetrator_spots[index - n],
                )
            }
        })
        .collect();
    let fleet = Fleet { arrivals };
    (engine, fleet)
}

impl Fleet {
    /// How many devices report.
    pub fn devices(&self) -> usize {
        self.arrivals.len()
    }

    /// The `round`-th fix of the `turn`-th device to report, 30 s after its
    /// previous one, jittering ±10 m.
    pub fn next_fix(&self, turn: usize, round: u64, rng: &mut Lcg) -> (&DeviceId, Fix) {
        let (device, place) = &self.arrivals[turn % self.arrivals.len()];
        let p = GeoPoint::new(
            place.lat + (rng.next() - 0.5) * 2e-4,
            place.lon + (rng.next() - 0.5) * 3e-4,
        );
        (
            device,
            fix(round, T0 + round * 30_000, p, 5.0 + 10.0 * rng.next()),
        )
    }
}
