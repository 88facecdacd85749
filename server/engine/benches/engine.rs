//! Throughput of the engine on one core: fixes evaluated per second with
//! 100,000 active orders (a circle and a 50-vertex polygon each, plus the
//! proximity rule), and against one 5,000-vertex polygon zone. Before
//! criterion's wall-clock figures, the fleet run also prints fixes per
//! second of this process's CPU time, which holds on a machine shared with
//! other work.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::hint::black_box;

use common::{Lcg, T0, build, fix, places, ring};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vangnet_engine::geometry::{Area, GeoPoint, LocalFrame};
use vangnet_engine::{Engine, EngineConfig, Event};
use vangnet_proto::order::{Geometry, OrderBody, ZoneBody};
use vangnet_proto::{OrderId, TimestampMs, ZoneId};

fn hundred_thousand_orders(c: &mut Criterion) {
    let (homes, spots) = places(100_000);
    let (mut engine, fleet) = build(homes, spots);
    let devices = fleet.devices();
    let mut rng = Lcg(11);
    let rounds = 5;
    let before = cpu_seconds();
    for round in 1..=rounds {
        for index in 0..devices {
            let (device, fix) = fleet.next_fix(index, round, &mut rng);
            let now = fix.ts;
            black_box(engine.handle(device, Event::Fixes(vec![fix]), now));
        }
    }
    let fixes = rounds as f64 * devices as f64;
    println!(
        "fleet, fixes per CPU-second with 100k orders: {:.0}",
        fixes / (cpu_seconds() - before)
    );
    let mut i = rounds as usize * devices;
    let mut group = c.benchmark_group("fleet");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fix with 100k orders", |b| {
        b.iter(|| {
            let round = (i / devices) as u64 + 1;
            let (device, fix) = fleet.next_fix(i % devices, round, &mut rng);
            let now = fix.ts;
            i += 1;
            black_box(engine.handle(device, Event::Fixes(vec![fix]), now))
        })
    });
    group.finish();
}

fn big_polygon(c: &mut Criterion) {
    let centre = GeoPoint::new(51.92, 4.48);
    let rings = vec![ring(centre, 2_000.0, 5_000)];
    let frame = LocalFrame::new(centre);
    let mut rng = Lcg(5);
    let points: Vec<GeoPoint> = (0..4_096)
        .map(|_| frame.unproject([(rng.next() - 0.5) * 6_000.0, (rng.next() - 0.5) * 6_000.0]))
        .collect();

    let corners: Vec<GeoPoint> = rings[0].iter().map(|p| GeoPoint::new(p[1], p[0])).collect();
    let area = Area::new(&[vec![corners]]);
    let mut group = c.benchmark_group("5000-vertex polygon");
    group.throughput(Throughput::Elements(1));
    let mut k = 0;
    group.bench_function("signed distance", |b| {
        b.iter(|| {
            k = (k + 1) % points.len();
            black_box(area.signed_distance_within(points[k], 1_000.0))
        })
    });

    let mut engine = Engine::new(EngineConfig::default());
    let body = OrderBody {
        id: Some(OrderId::new("big")),
        region: "rotterdam".into(),
        exercise: false,
        victim_devices: vec![common::dev("v".into())],
        perpetrator_devices: vec![common::dev("p".into())],
        proximity: None,
        zones: vec![ZoneBody {
            id: ZoneId::new("city"),
            geometry: Geometry::Polygon(rings),
            radius_m: None,
            prealarm_m: 1_000.0,
        }]
        .into(),
        valid_from: None,
        valid_until: None,
        warn_perpetrator: Default::default(),
    };
    engine.put_order(&body, TimestampMs(T0)).unwrap();
    let perpetrator = common::dev("p".into());
    let mut seq = 0u64;
    group.bench_function("fix against it", |b| {
        b.iter(|| {
            seq += 1;
            let p = points[seq as usize % points.len()];
            let fix = fix(seq, T0 + seq * 1_000, p, 10.0);
            let now = fix.ts;
            black_box(engine.handle(&perpetrator, Event::Fixes(vec![fix]), now))
        })
    });
    group.finish();
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

criterion_group!(benches, hundred_thousand_orders, big_polygon);
criterion_main!(benches);
