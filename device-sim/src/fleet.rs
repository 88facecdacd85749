//! The simulated fleet: protection orders with one victim and one perpetrator
//! device each, where the devices are, and the fixes they publish.
//!
//! Victims stay at home (the centre of their order's zone); perpetrators roam
//! the city between random destinations on foot, by bike or by car, so some
//! pass near their victim and raise alerts, but most of the time none do.
//! A fleet may also have visitors: perpetrators who drive to and fro along a
//! road through their victim's home, so their order's alerts are raised and
//! cleared again and again.

use std::f64::consts::TAU;
use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};
use vangnet_proto::{Channel, DeviceId, TimestampMs, Topics};

/// Centre of the simulated city (Rotterdam).
const CITY_CENTRE: Point = Point {
    lat: 51.9225,
    lon: 4.4792,
};
/// Homes and destinations lie within this distance of the centre.
const CITY_RADIUS_M: f64 = 10_000.0;
/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;
/// Travel speeds of a perpetrator's legs: walking, cycling, driving.
const SPEEDS_MPS: [f64; 3] = [1.4, 4.5, 11.0];
/// Reported GPS accuracy, and the size of the simulated noise.
const ACCURACY_M: f64 = 8.0;
/// How far a visitor drives past the victim's home each way: beyond where
/// an approach, begun at most 120 s at visiting speed outside the alarm
/// distance, clears (about 3.5 km).
const VISIT_REACH_M: f64 = 4_000.0;
/// A visitor's speed, a car in town.
const VISIT_SPEED_MPS: f64 = 20.0;

/// A position in degrees.
#[derive(Debug, Clone, Copy)]
struct Point {
    lat: f64,
    lon: f64,
}

impl Point {
    /// The point `east_m` east and `north_m` north of this one.
    fn offset(self, east_m: f64, north_m: f64) -> Self {
        Self {
            lat: self.lat + north_m / METRES_PER_DEGREE,
            lon: self.lon + east_m / (METRES_PER_DEGREE * self.lat.to_radians().cos()),
        }
    }

    /// Metres east and north from this point to `other` (fine at city scale).
    fn metres_to(self, other: Self) -> (f64, f64) {
        (
            (other.lon - self.lon) * METRES_PER_DEGREE * self.lat.to_radians().cos(),
            (other.lat - self.lat) * METRES_PER_DEGREE,
        )
    }

    /// A uniformly random point of the city.
    fn random_in_city(rng: &mut fastrand::Rng) -> Self {
        let radius = CITY_RADIUS_M * rng.f64().sqrt();
        let angle = rng.f64() * TAU;
        CITY_CENTRE.offset(radius * angle.cos(), radius * angle.sin())
    }
}

/// One protection order of the fleet.
#[derive(Debug, Clone)]
pub struct SimOrder {
    /// Order id, `{name}-o-{n}`.
    pub id: String,
    /// The victim's device id, `{name}-v-{n}`.
    pub victim: String,
    /// The perpetrator's device id, `{name}-p-{n}`.
    pub perpetrator: String,
    home: Point,
}

impl SimOrder {
    /// The order body (docs/api.md#orders): a proximity rule and a circle zone around the victim's home.
    pub fn body(&self) -> Value {
        json!({
            "id": self.id, "region": "rotterdam", "exercise": false,
            "victim_devices": [self.victim], "perpetrator_devices": [self.perpetrator],
            "proximity": {"alarm_m": 1000, "prealarm_m": 2000},
            "zones": [{"id": "home",
                       "geometry": {"type": "Point", "coordinates": [self.home.lon, self.home.lat]},
                       "radius_m": 250, "prealarm_m": 750}]
        })
    }
}

/// How a device moves.
#[derive(Debug)]
enum Motion {
    /// Stays at one place, as a victim at home.
    AtHome(Point),
    /// Travels from destination to destination at the leg's speed.
    Roaming {
        at: Point,
        destination: Point,
        speed_mps: f64,
        since: Instant,
    },
    /// Drives to and fro through `home` along a road heading `east`, `north`
    /// (a unit vector), `VISIT_REACH_M` each way, `phase_m` along the round
    /// trip at `since`.
    Visiting {
        home: Point,
        east: f64,
        north: f64,
        phase_m: f64,
        since: Instant,
    },
}

/// A simulated device: its uplink topic, its message counter and its motion.
#[derive(Debug)]
pub struct SimDevice {
    topic: String,
    seq: u64,
    motion: Motion,
    rng: fastrand::Rng,
}

impl SimDevice {
    /// The device's `loc` topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next fix (docs/protocol.md#fixes) at the device's position now, with GPS noise.
    pub fn next_fix(&mut self) -> String {
        self.seq += 1;
        let (position, speed, heading) = self.advance(Instant::now());
        let noisy = position.offset(
            (self.rng.f64() - 0.5) * ACCURACY_M,
            (self.rng.f64() - 0.5) * ACCURACY_M,
        );
        format!(
            r#"{{"seq":{},"ts":{},"lat":{:.6},"lon":{:.6},"acc":{ACCURACY_M:.1},"spd":{speed:.1},"hdg":{heading:.0},"src":"gps"}}"#,
            self.seq,
            TimestampMs::now().millis(),
            noisy.lat,
            noisy.lon,
        )
    }

    /// Moves the device up to `now`; returns its position, speed and heading.
    fn advance(&mut self, now: Instant) -> (Point, f64, f64) {
        let (at, destination, speed_mps, since) = match &mut self.motion {
            Motion::AtHome(home) => return (*home, 0.0, 0.0),
            Motion::Visiting {
                home,
                east,
                north,
                phase_m,
                since,
            } => {
                let round_trip = 4.0 * VISIT_REACH_M;
                let along = (*phase_m + VISIT_SPEED_MPS * now.duration_since(*since).as_secs_f64())
                    .rem_euclid(round_trip);
                let (offset, sign) = if along < round_trip / 2.0 {
                    (along - VISIT_REACH_M, 1.0)
                } else {
                    (3.0 * VISIT_REACH_M - along, -1.0)
                };
                let at = home.offset(*east * offset, *north * offset);
                let heading = (sign * *east).atan2(sign * *north).to_degrees();
                return (at, VISIT_SPEED_MPS, heading.rem_euclid(360.0));
            }
            Motion::Roaming {
                at,
                destination,
                speed_mps,
                since,
            } => (at, destination, speed_mps, since),
        };
        let travelled = *speed_mps * now.duration_since(*since).as_secs_f64();
        *since = now;
        let (east, north) = at.metres_to(*destination);
        let remaining = east.hypot(north);
        if travelled >= remaining {
            *at = *destination;
            *destination = Point::random_in_city(&mut self.rng);
            *speed_mps = SPEEDS_MPS[self.rng.usize(..SPEEDS_MPS.len())];
        } else {
            let share = travelled / remaining;
            *at = at.offset(east * share, north * share);
        }
        let heading = east.atan2(north).to_degrees().rem_euclid(360.0);
        (*at, *speed_mps, heading)
    }
}

/// The orders of a benchmark or load run, and their devices.
#[derive(Debug)]
pub struct Fleet {
    /// The orders, numbered from 0.
    pub orders: Vec<SimOrder>,
    seed: u64,
    /// The perpetrators of this many orders, from the first, are visitors.
    visitors: usize,
}

impl Fleet {
    /// `count` orders named `{name}-o-{n}`, homes placed at random (reproducibly for one `seed`).
    pub fn new(name: &str, count: usize, seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let orders = (0..count)
            .map(|n| SimOrder {
                id: format!("{name}-o-{n}"),
                victim: format!("{name}-v-{n}"),
                perpetrator: format!("{name}-p-{n}"),
                home: Point::random_in_city(&mut rng),
            })
            .collect();
        Self {
            orders,
            seed,
            visitors: 0,
        }
    }

    /// The same fleet with the perpetrators of its first `visitors` orders
    /// driving through their victim's home, each at a random point of the
    /// round trip at the start, so visits are spread over time.
    pub fn with_visitors(mut self, visitors: usize) -> Self {
        self.visitors = visitors.min(self.orders.len());
        self
    }

    /// Every device of the fleet (victim, then perpetrator, per order), publishing under `topics`.
    pub fn devices(&self, topics: &Topics) -> anyhow::Result<Vec<SimDevice>> {
        let mut rng = fastrand::Rng::with_seed(self.seed ^ 0x5eed);
        let started = Instant::now();
        let mut devices = Vec::with_capacity(self.orders.len() * 2);
        for (n, order) in self.orders.iter().enumerate() {
            let victim = Motion::AtHome(order.home);
            let perpetrator = if n < self.visitors {
                let bearing = rng.f64() * TAU;
                Motion::Visiting {
                    home: order.home,
                    east: bearing.sin(),
                    north: bearing.cos(),
                    phase_m: rng.f64() * 4.0 * VISIT_REACH_M,
                    since: started,
                }
            } else {
                Motion::Roaming {
                    at: Point::random_in_city(&mut rng),
                    destination: Point::random_in_city(&mut rng),
                    speed_mps: SPEEDS_MPS[rng.usize(..SPEEDS_MPS.len())],
                    since: started,
                }
            };
            for (id, motion) in [(&order.victim, victim), (&order.perpetrator, perpetrator)] {
                let device = DeviceId::parse(id, "device").context("fleet device id")?;
                devices.push(SimDevice {
                    topic: topics.uplink(&device, Channel::Loc),
                    seq: 0,
                    motion,
                    rng: rng.fork(),
                });
            }
        }
        Ok(devices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_are_valid_uplink_messages_inside_the_city() {
        let fleet = Fleet::new("t", 3, 7);
        let topics = Topics::new("sim/test").unwrap();
        let mut devices = fleet.devices(&topics).unwrap();
        assert_eq!(devices.len(), 6);
        for device in &mut devices {
            let (id, channel) = topics.parse_uplink(device.topic()).unwrap();
            assert_eq!(channel, Channel::Loc);
            let payload = device.next_fix();
            let parsed =
                vangnet_proto::parse_uplink(channel, payload.as_bytes(), &id, TimestampMs::now());
            assert!(parsed.is_ok(), "{payload}: {parsed:?}");
            let fix: Value = serde_json::from_str(&payload).unwrap();
            let at = Point {
                lat: fix["lat"].as_f64().unwrap(),
                lon: fix["lon"].as_f64().unwrap(),
            };
            let (east, north) = CITY_CENTRE.metres_to(at);
            assert!(east.hypot(north) < CITY_RADIUS_M + 50.0);
        }
    }

    #[test]
    fn a_visitor_drives_through_the_home_and_out_beyond_the_alerts_reach() {
        let fleet = Fleet::new("t", 1, 3).with_visitors(1);
        let mut devices = fleet.devices(&Topics::new("sim/test").unwrap()).unwrap();
        let home = fleet.orders[0].home;
        let visitor = &mut devices[1];
        let start = Instant::now();
        let distances: Vec<f64> = (0..=800)
            .map(|s| {
                let (at, speed, _) = visitor.advance(start + std::time::Duration::from_secs(s));
                assert_eq!(speed, VISIT_SPEED_MPS);
                let (east, north) = home.metres_to(at);
                east.hypot(north)
            })
            .collect();
        let nearest = distances.iter().copied().fold(f64::INFINITY, f64::min);
        let farthest = distances.iter().copied().fold(0.0, f64::max);
        assert!(nearest < VISIT_SPEED_MPS, "{nearest}");
        assert!(farthest > VISIT_REACH_M - VISIT_SPEED_MPS, "{farthest}");
        for pair in distances.windows(2) {
            assert!((pair[1] - pair[0]).abs() <= VISIT_SPEED_MPS + 1e-6);
        }
    }

    #[test]
    fn a_roaming_device_moves_at_its_speed() {
        let mut device = Fleet::new("t", 1, 1)
            .devices(&Topics::new("sim/test").unwrap())
            .unwrap()
            .pop()
            .unwrap();
        let start = Instant::now();
        let (from, speed, _) = device.advance(start);
        let (to, _, _) = device.advance(start + std::time::Duration::from_secs(10));
        let (east, north) = from.metres_to(to);
        assert!(east.hypot(north) <= speed * 10.0 + 1e-6);
    }
}
