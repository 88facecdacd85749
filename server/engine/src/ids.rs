//! Alert ids. An id travels to devices (in `cmd` warnings and `ack`s), so it
//! must reveal nothing about the alert's kind, zone, order or time: each id
//! is 128 random bits, written as 26 Crockford base-32 characters (the shape
//! of a ULID). Nothing else in the engine depends on the id's value: one
//! alert per episode is kept by the order's state, and by the service's
//! versioned commit when two instances race (the loser's step runs again on
//! the winner's state and finds the alert open).
//!
//! The one input the engine does not get from its caller is this randomness;
//! a replay that must give the same ids twice injects a seeded source.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vangnet_proto::AlertId;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Where the engine's alert ids come from.
#[derive(Debug, Clone, Default)]
pub struct AlertIds(Source);

#[derive(Debug, Clone, Default)]
enum Source {
    /// The thread's cryptographically secure generator, seeded by the OS.
    #[default]
    Random,
    /// A fixed sequence, for tests and replays; a clone repeats it.
    Seeded(Box<StdRng>),
}

impl AlertIds {
    /// Unpredictable ids: what the service uses.
    pub fn random() -> Self {
        Self(Source::Random)
    }

    /// The same sequence of ids for the same `seed`, so that a replay of
    /// the same events gives the same alerts, ids included.
    pub fn seeded(seed: u64) -> Self {
        Self(Source::Seeded(Box::new(StdRng::seed_from_u64(seed))))
    }

    /// A fresh id.
    pub(crate) fn next(&mut self) -> AlertId {
        let value: u128 = match &mut self.0 {
            Source::Random => rand::rng().random(),
            Source::Seeded(rng) => rng.random(),
        };
        let text: String = (0..26)
            .rev()
            .map(|i| char::from(CROCKFORD[((value >> (i * 5)) & 31) as usize]))
            .collect();
        AlertId::new(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_source_repeats_its_ids_and_a_random_one_does_not() {
        let draw = |mut ids: AlertIds| [ids.next(), ids.next()];
        let seeded = draw(AlertIds::seeded(7));
        assert_eq!(seeded, draw(AlertIds::seeded(7)));
        assert_ne!(seeded[0], seeded[1]);
        assert_ne!(draw(AlertIds::random()), draw(AlertIds::random()));
    }

    #[test]
    fn ids_have_the_shape_of_a_ulid() {
        let id = AlertIds::random().next();
        let text = id.as_str();
        assert_eq!(text.len(), 26);
        assert!(text.bytes().all(|b| CROCKFORD.contains(&b)), "{text}");
        assert!(text.as_bytes()[0] <= b'7', "128 bits: {text}");
    }
}
