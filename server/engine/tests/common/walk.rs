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

/// A month's planned visits: at each start time the walker goes straight in
/// to 150 m from the centre at 1.4 m/s, stays 30–600 s, and walks straight
/// back out to `r_min`, then wanders on.
pub struct Visits {
    starts: Vec<u64>,
    next: usize,
    /// The visit under way: when the stay ends (0 while walking in), where
    /// it is, and how long it lasts.
    under_way: Option<(u64, [f64; 2], u64)>,
    step_s: f64,
}

/// What a visit did at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// He set off towards the centre.
    Began,
    /// He is back at `r_min`.
    Ended,
}

impl Visits {
    /// `count` visits spread over `month_s`, with steps of `step_s`.
    pub fn new(count: u64, month_s: u64, step_s: u64) -> Self {
        Self {
            starts: (0..count)
                .map(|i| (i * month_s / count) + 3 * 3600)
                .collect(),
            next: 0,
            under_way: None,
            step_s: step_s as f64,
        }
    }

    /// Moves `walker` on to `t`: visiting, or wandering between visits.
    pub fn step(&mut self, walker: &mut Walker, rng: &mut StdRng, t: u64) -> Option<Visit> {
        let mut began = None;
        if self.under_way.is_none() && self.starts.get(self.next).is_some_and(|&at| t >= at) {
            self.next += 1;
            let dwell = rng.random_range(30..600);
            let goal = [150.0 * walker.theta.cos(), 150.0 * walker.theta.sin()];
            self.under_way = Some((0, goal, dwell));
            began = Some(Visit::Began);
        }
        let stride = 1.4 * self.step_s;
        let Some((stay_ends, goal, dwell)) = &mut self.under_way else {
            walker.wander(rng, self.step_s);
            return began;
        };
        if *stay_ends == 0 {
            let here = walker.xy();
            let (dx, dy) = (goal[0] - here[0], goal[1] - here[1]);
            let gap = dx.hypot(dy);
            let step = stride.min(gap);
            walker.r = ((here[0] + dx / gap.max(1e-9) * step).powi(2)
                + (here[1] + dy / gap.max(1e-9) * step).powi(2))
            .sqrt();
            if gap <= step {
                *stay_ends = t + *dwell;
            }
        } else if t >= *stay_ends {
            walker.r = (walker.r + stride).min(walker.r_min);
            if walker.r >= walker.r_min {
                self.under_way = None;
                return Some(Visit::Ended);
            }
        }
        began
    }
}
