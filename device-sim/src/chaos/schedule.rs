//! When a chaos run's faults strike: at moments drawn from its seed, so a
//! run can be repeated, within the middle of the run (from 10 % to 85 % of
//! it), leaving its start to warm up and its end to recover.

use std::fmt;
use std::time::Duration;

/// Share of the run before the first fault.
const FIRST: f64 = 0.10;
/// Share of the run after which no fault starts.
const LAST: f64 = 0.85;
/// A kill strikes up to this long after a panic pressed just before it.
const KILL_AFTER_PRESS_MS: u64 = 30;

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL of `vangnet` this long after a panic is pressed, then a new one.
    Kill {
        /// From the press to the kill, so that some kills strike between the
        /// alarm's commit, its receipt, its dispatch and its MQTT ack.
        after_press: Duration,
    },
    /// SIGKILL of the broker, then a new one on the same port.
    BrokerRestart,
    /// SIGKILL of Redis, then a new one on the same port reading the append-only file.
    RedisRestart,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kill { .. } => "kill -9 vangnet",
            Self::BrokerRestart => "broker restart",
            Self::RedisRestart => "Redis restart",
        })
    }
}

/// How many of each fault a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// `kill -9` of `vangnet`.
    pub kills: usize,
    /// Broker restarts.
    pub broker_restarts: usize,
    /// Redis restarts.
    pub redis_restarts: usize,
}

/// The faults of one run, as offsets from its start.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The faults in the order they strike; each starts at its offset, or
    /// once the one before has recovered if that is later.
    pub faults: Vec<(Duration, Fault)>,
    /// The dispatch outage: its start and how long it lasts, if any.
    pub outage: Option<(Duration, Duration)>,
}

impl Schedule {
    /// The schedule of a run of `run` with `counts` faults and a dispatch outage of `outage`, drawn from `seed`.
    pub fn new(seed: u64, counts: Counts, run: Duration, outage: Duration) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let window = |rng: &mut fastrand::Rng, length: Duration| {
            let last = (run.mul_f64(LAST).saturating_sub(length)).max(run.mul_f64(FIRST));
            run.mul_f64(FIRST) + (last - run.mul_f64(FIRST)).mul_f64(rng.f64())
        };
        let kill = Fault::Kill {
            after_press: Duration::ZERO,
        };
        let mut faults: Vec<(Duration, Fault)> = [
            (counts.kills, kill),
            (counts.broker_restarts, Fault::BrokerRestart),
            (counts.redis_restarts, Fault::RedisRestart),
        ]
        .into_iter()
        .flat_map(|(count, fault)| std::iter::repeat_n(fault, count))
        .map(|fault| {
            let fault = match fault {
                Fault::Kill { .. } => Fault::Kill {
                    after_press: Duration::from_millis(rng.u64(..=KILL_AFTER_PRESS_MS)),
                },
                other => other,
            };
            (window(&mut rng, Duration::ZERO), fault)
        })
        .collect();
        faults.sort_by_key(|(at, _)| *at);
        let outage = (!outage.is_zero()).then(|| (window(&mut rng, outage), outage));
        Self { faults, outage }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTS: Counts = Counts {
        kills: 50,
        broker_restarts: 5,
        redis_restarts: 5,
    };

    #[test]
    fn a_schedule_holds_every_fault_in_time_order_within_the_middle_of_the_run() {
        let run = Duration::from_secs(600);
        let schedule = Schedule::new(7, COUNTS, run, Duration::from_secs(20));
        let count =
            |wanted: fn(&Fault) -> bool| schedule.faults.iter().filter(|(_, f)| wanted(f)).count();
        assert_eq!(
            (
                count(|f| matches!(f, Fault::Kill { .. })),
                count(|f| *f == Fault::BrokerRestart),
                count(|f| *f == Fault::RedisRestart)
            ),
            (50, 5, 5)
        );
        assert!(schedule.faults.iter().all(|(_, f)| match f {
            Fault::Kill { after_press } => *after_press <= Duration::from_millis(30),
            _ => true,
        }));
        assert!(schedule.faults.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(
            schedule.faults.iter().all(|(at, _)| {
                *at >= Duration::from_secs(60) && *at <= Duration::from_secs(510)
            })
        );
        let (start, length) = schedule.outage.unwrap();
        assert!(start >= Duration::from_secs(60) && start + length <= Duration::from_secs(510));
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let run = Duration::from_secs(60);
        let outage = Duration::from_secs(5);
        assert_eq!(
            Schedule::new(3, COUNTS, run, outage),
            Schedule::new(3, COUNTS, run, outage)
        );
        assert_ne!(
            Schedule::new(3, COUNTS, run, outage),
            Schedule::new(4, COUNTS, run, outage)
        );
    }

    #[test]
    fn no_outage_is_scheduled_when_none_is_asked_for() {
        let schedule = Schedule::new(1, COUNTS, Duration::from_secs(60), Duration::ZERO);
        assert_eq!(schedule.outage, None);
    }
}
