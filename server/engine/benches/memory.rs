//! Memory per active order: bytes held by the engine for 100,000 orders
//! (a circle and a 50-vertex polygon each, proximity rule, one victim and
//! one perpetrator device whose dedup windows are full), counted by an
//! instrumented allocator. Run with `cargo bench -p vangnet-engine --bench memory`.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::alloc::System;

use common::{Lcg, build, places};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use vangnet_engine::Event;
use vangnet_engine::dedup::RECENT;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ORDERS: usize = 100_000;
/// Each polygon edge keeps both its ends: 2 × 2 × 8 bytes.
const EDGE_BYTES: usize = 32;
const POLYGON_EDGES: usize = 50;

fn main() {
    let (homes, spots) = places(ORDERS);
    let region = Region::new(GLOBAL);
    let (mut engine, fleet) = build(homes, spots);
    let mut rng = Lcg(3);
    for round in 1..=RECENT as u64 {
        for index in 0..2 * ORDERS {
            let (device, fix) = fleet.next_fix(index, round, &mut rng);
            let now = fix.ts;
            drop(engine.handle(device, Event::Fixes(vec![fix]), now));
        }
    }
    let change = region.change();
    let held = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    let per_order = held as f64 / ORDERS as f64;
    let polygon = (EDGE_BYTES * POLYGON_EDGES) as f64;
    println!(
        "engine memory for {ORDERS} orders: {:.1} MiB",
        held as f64 / (1 << 20) as f64
    );
    println!("per active order (with its 2 devices): {per_order:.0} B");
    println!("  of which polygon edges ({POLYGON_EDGES} × {EDGE_BYTES} B): {polygon:.0} B");
    println!("  beside polygon vertices: {:.0} B", per_order - polygon);
    drop(engine);
}
