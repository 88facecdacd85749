//! The seeded GPS error model: what a device reports for a true position.
//!
//! Ordinary error is Gaussian with σ = acc/2 on each axis, drawn again when
//! it falls beyond the reported accuracy (the accuracy radius honestly
//! contains the truth).
//! Outliers are single fixes 150–400 m off that claim 10–20 m accuracy; jumps
//! move three fixes in a row 100–300 m off with the usual accuracy; canyon
//! bursts move several fixes in a row the same way, each with its ordinary
//! error on top; a frozen device repeats its last report.

use std::f64::consts::TAU;

use vangnet_geodesy::{Position, offset};

use super::model::Noise;

/// Draws of the ordinary error before giving up on one within the accuracy (each succeeds with p ≈ 0.86).
const MAX_DRAWS: usize = 64;
/// Fixes a jump lasts.
const JUMP_FIXES: u32 = 3;

/// A reported position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The reported position.
    pub at: Position,
    /// The reported accuracy (m).
    pub acc: f64,
}

/// One device's GPS receiver.
#[derive(Debug)]
pub struct Gps {
    noise: Noise,
    acc: f64,
    rng: fastrand::Rng,
    jump: Option<(u32, f64, f64)>,
    burst: Option<(u32, f64, f64)>,
    last: Option<Reading>,
}

impl Gps {
    /// A receiver reporting accuracy `acc` (m), faulty as `noise` says, seeded.
    pub fn new(noise: Noise, acc: f64, seed: u64) -> Self {
        Self {
            noise,
            acc,
            rng: fastrand::Rng::with_seed(seed),
            jump: None,
            burst: None,
            last: None,
        }
    }

    /// What the device reports at scenario time `t` when it truly is at `truth`.
    pub fn read(&mut self, truth: Position, t: f64) -> Reading {
        let frozen = self.noise.frozen.iter().any(|w| (w[0]..w[1]).contains(&t));
        if frozen && let Some(last) = self.last {
            return last;
        }
        let reading = self.fresh(truth);
        self.last = Some(reading);
        reading
    }

    fn fresh(&mut self, truth: Position) -> Reading {
        if let Some((left, east, north)) = self.jump.take() {
            if left > 1 {
                self.jump = Some((left - 1, east, north));
            }
            return Reading {
                at: offset(truth, east, north),
                acc: self.acc,
            };
        }
        if let Some((left, east, north)) = self.burst.take() {
            if left > 1 {
                self.burst = Some((left - 1, east, north));
            }
            return self.ordinary(offset(truth, east, north));
        }
        if let Some(canyon) = self.noise.canyon
            && self.rng.f64() < canyon.rate
        {
            let [min_fixes, max_fixes] = canyon.fixes;
            let fixes = self
                .rng
                .u32(min_fixes.max(1)..=max_fixes.max(min_fixes).max(1));
            let [near, far] = canyon.offset_m;
            let length = near + (far - near) * self.rng.f64();
            let bearing = canyon.bearing_deg.to_radians();
            let (east, north) = (length * bearing.sin(), length * bearing.cos());
            if fixes > 1 {
                self.burst = Some((fixes - 1, east, north));
            }
            return self.ordinary(offset(truth, east, north));
        }
        if self.rng.f64() < self.noise.outlier_rate {
            let (east, north) = self.polar(150.0, 400.0);
            return Reading {
                at: offset(truth, east, north),
                acc: 10.0 + 10.0 * self.rng.f64(),
            };
        }
        if self.rng.f64() < self.noise.jump_rate {
            let (east, north) = self.polar(100.0, 300.0);
            self.jump = Some((JUMP_FIXES - 1, east, north));
            return Reading {
                at: offset(truth, east, north),
                acc: self.acc,
            };
        }
        self.ordinary(truth)
    }

    /// A reading of `at` with the ordinary error, within the reported accuracy.
    fn ordinary(&mut self, at: Position) -> Reading {
        let (acc, sigma) = (self.acc, self.acc / 2.0);
        let (east, north) = std::iter::repeat_with(|| (self.gaussian(), self.gaussian()))
            .map(|(e, n)| (e * sigma, n * sigma))
            .take(MAX_DRAWS)
            .find(|(e, n)| e.hypot(*n) <= acc)
            .unwrap_or_default();
        Reading {
            at: offset(at, east, north),
            acc,
        }
    }

    /// A displacement of random direction and a length in `[min, max)` metres.
    fn polar(&mut self, min: f64, max: f64) -> (f64, f64) {
        let length = min + (max - min) * self.rng.f64();
        let angle = TAU * self.rng.f64();
        (length * angle.cos(), length * angle.sin())
    }

    /// A standard normal draw (Box–Muller).
    fn gaussian(&mut self) -> f64 {
        let u = 1.0 - self.rng.f64();
        (-2.0 * u.ln()).sqrt() * (TAU * self.rng.f64()).cos()
    }
}

#[cfg(test)]
mod tests {
    use vangnet_geodesy::{azimuth, distance_m};

    use super::super::model::Canyon;
    use super::*;

    const HOME: Position = Position {
        lat: 51.92,
        lon: 4.48,
    };

    #[test]
    fn ordinary_error_stays_within_the_reported_accuracy() {
        let mut gps = Gps::new(Noise::default(), 30.0, 1);
        let errors: Vec<f64> = (0..1000)
            .map(|i| distance_m(gps.read(HOME, f64::from(i)).at, HOME))
            .collect();
        assert!(errors.iter().all(|e| *e <= 30.01));
        assert!(errors.iter().any(|e| *e > 20.0));
    }

    #[test]
    fn outliers_are_far_off_and_claim_good_accuracy() {
        let noise = Noise {
            outlier_rate: 1.0,
            ..Noise::default()
        };
        let reading = Gps::new(noise, 8.0, 2).read(HOME, 0.0);
        let error = distance_m(reading.at, HOME);
        assert!((150.0..400.5).contains(&error), "{error}");
        assert!((10.0..=20.0).contains(&reading.acc));
    }

    #[test]
    fn a_jump_lasts_three_fixes() {
        let noise = Noise {
            jump_rate: 1.0,
            ..Noise::default()
        };
        let mut gps = Gps::new(noise, 8.0, 3);
        let first = gps.read(HOME, 0.0).at;
        assert_eq!(gps.read(HOME, 1.0).at, first);
        assert_eq!(gps.read(HOME, 2.0).at, first);
        assert!(distance_m(first, HOME) >= 100.0);
    }

    #[test]
    fn a_canyon_burst_throws_three_to_five_fixes_the_same_way() {
        let noise = Noise {
            canyon: Some(Canyon {
                rate: 0.2,
                bearing_deg: 90.0,
                fixes: [3, 5],
                offset_m: [150.0, 300.0],
            }),
            ..Noise::default()
        };
        let mut gps = Gps::new(noise, 8.0, 5);
        let mut lengths = Vec::new();
        for i in 0..2000 {
            let starts = gps.burst.is_none();
            let at = gps.read(HOME, f64::from(i)).at;
            let (d, bearing) = (distance_m(HOME, at), azimuth(HOME, at).to_radians());
            let (east, north) = (d * bearing.sin(), d * bearing.cos());
            if east > 100.0 {
                assert!((142.0..308.0).contains(&east) && north.abs() <= 8.0);
                if starts {
                    lengths.push(1 + gps.burst.map_or(0, |(left, ..)| left));
                }
            }
        }
        assert!(lengths.len() > 10);
        assert!(lengths.iter().all(|n| (3..=5).contains(n)), "{lengths:?}");
        assert!(lengths.contains(&3) && lengths.contains(&5));
    }

    #[test]
    fn a_frozen_device_repeats_its_last_report() {
        let noise = Noise {
            frozen: vec![[10.0, 20.0]],
            ..Noise::default()
        };
        let mut gps = Gps::new(noise, 8.0, 4);
        let before = gps.read(HOME, 5.0);
        let moved = offset(HOME, 500.0, 0.0);
        assert_eq!(gps.read(moved, 15.0), before);
        assert!(distance_m(gps.read(moved, 25.0).at, moved) <= 8.01);
    }
}
