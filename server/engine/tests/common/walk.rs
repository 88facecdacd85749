//! The replay's perpetrator and GPS: a seeded random walk near a zone and
//! the noise model of its fixes, shared by the replay and the incident figures.

use rand::Rng;
use rand::rngs::StdRng;
use vangnet_proto::{Fix, Latitude, Longitude, Meters};

use super::{at, ts};

/// A standard normal draw (Box–Muller).
pub fn gaussian(rng: &mut StdRng) -> f64 {
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A device's report of its true position `truth` at `t_s`.
pub fn report(rng: &mut StdRng, seq: u64, t_s: u64, truth: [f64; 2], outlier: bool) -> Fix {
    let (dx, dy, acc) = if outlier {
        let angle = rng.random::<f64>() * std::f64::consts::TAU;
        let throw = rng.random_range(150.0..400.0);
        (
            throw * angle.cos(),
            throw * angle.sin(),
            rng.random_range(10.0..20.0),
        )
    } else {
        let acc = rng.random_range(5.0..20.0);
        let sigma = acc / 1.5;
        (gaussian(rng) * sigma, gaussian(rng) * sigma, acc)
    };
    let p = at(truth[0] + dx, truth[1] + dy);
    Fix::new(
        seq,
        ts(t_s),
        Latitude::new(p.lat).unwrap(),
        Longitude::new(p.lon).unwrap(),
        Meters::new(acc).unwrap(),
    )
}

/// Where the perpetrator truly is: a random walk in polar coordinates
/// around the zone, at walking speed, kept between `r_min` and `r_max`
/// except during violation episodes, when he walks in to 150 m from the
/// centre, stays, and walks out.
pub struct Walker {
    /// Distance from the zone's centre (m).
    pub r: f64,
    /// Bearing from the zone's centre (radians).
    pub theta: f64,
    /// Radial speed (m/s).
    pub v_r: f64,
    /// Tangential speed (m/s).
    pub v_t: f64,
    /// Closest the walk comes.
    pub r_min: f64,
    /// Farthest the walk goes.
    pub r_max: f64,
}

impl Walker {
    /// Moves the walker on by `dt` seconds.
    pub fn wander(&mut self, rng: &mut StdRng, dt: f64) {
        let pausing = rng.random::<f64>() < 0.02;
        self.v_r = (0.8 * self.v_r + 0.4 * gaussian(rng)).clamp(-1.5, 1.5);
        self.v_t = (0.8 * self.v_t + 0.4 * gaussian(rng)).clamp(-1.5, 1.5);
        if pausing {
            self.v_r = 0.0;
            self.v_t = 0.0;
        }
        self.r += self.v_r * dt;
        if self.r < self.r_min || self.r > self.r_max {
            self.v_r = -self.v_r;
            self.r = self.r.clamp(self.r_min, self.r_max);
        }
        self.theta += self.v_t * dt / self.r;
    }

    /// Where the walker is, in metres east and north of the origin.
    pub fn xy(&self) -> [f64; 2] {
        [self.r * self.theta.cos(), self.r * self.theta.sin()]
    }
}
