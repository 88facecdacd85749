//! Parse + validate throughput of the hot path: one fix on a `loc` topic.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vangnet_proto::{DeviceId, TimestampMs, Topics, parse_loc};

fn parse_fix(c: &mut Criterion) {
    let payload = br#"{"seq":17,"ts":1764331200000,"lat":51.9225,"lon":4.4792,"acc":8.5,"spd":1.4,"batt":64}"#;
    let topics = Topics::new(Topics::DEFAULT_PREFIX).unwrap();
    let topic = "vangnet/v1/devices/p-000017/loc";
    let now = TimestampMs(1_764_331_260_000);
    let mut group = c.benchmark_group("proto");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_and_validate_fix", |b| {
        b.iter(|| {
            let (device, _) = topics.parse_uplink(black_box(topic)).unwrap();
            parse_loc(black_box(payload), &device, now).unwrap()
        })
    });
    let device = DeviceId::parse("p-000017", "device").unwrap();
    group.bench_function("parse_and_validate_fix_payload_only", |b| {
        b.iter(|| parse_loc(black_box(payload), &device, now).unwrap())
    });
    group.finish();
}

criterion_group!(benches, parse_fix);
criterion_main!(benches);
