//! How long the service waits before it tries again. Every schedule is
//! exponential with backon's jitter, which adds up to the current delay once
//! more, so that partitions, routes and instances that failed together spread
//! their retries; each schedule's longest wait is therefore twice its largest
//! delay. A loop that tries again starts a schedule over (`build()` anew)
//! after a success.

use std::time::Duration;

use backon::ExponentialBuilder;

/// The longest wait between two reconnects to the MQTT broker.
pub const MQTT_RECONNECT_LONGEST: Duration = Duration::from_secs(10);
/// The longest wait between two tries of a store that is unavailable.
pub const STORE_LONGEST: Duration = Duration::from_secs(5);
/// The first retry of a failing dispatch route comes after 375–750 ms.
const DISPATCH_FIRST: Duration = Duration::from_millis(375);

/// Reconnects to the MQTT broker: the first after 75–150 ms.
pub fn mqtt_reconnect() -> ExponentialBuilder {
    endless(Duration::from_millis(75), MQTT_RECONNECT_LONGEST)
}

/// Tries of a store that is unavailable: the first after 50–100 ms.
pub fn store() -> ExponentialBuilder {
    endless(Duration::from_millis(50), STORE_LONGEST)
}

/// Tries of a failing dispatch route, never more than `longest` apart.
pub fn dispatch(longest: Duration) -> ExponentialBuilder {
    endless(DISPATCH_FIRST.min(longest / 2), longest)
}

/// `retries` checks of an order write again while other instances keep moving
/// the orders' epoch: 10–20 ms first, then at most 80 ms apart.
pub fn order_write(retries: usize) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_jitter()
        .with_min_delay(Duration::from_millis(10))
        .with_max_delay(Duration::from_millis(40))
        .with_max_times(retries)
}

/// Delays that double from `first` and never run out, with jitter that keeps
/// them within `longest`.
fn endless(first: Duration, longest: Duration) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_jitter()
        .with_factor(2.0)
        .with_min_delay(first)
        .with_max_delay(longest / 2)
        .without_max_times()
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;

    use super::*;

    fn delays(schedule: ExponentialBuilder, count: usize) -> Vec<Duration> {
        schedule.build().take(count).collect()
    }

    fn within(delay: Duration, from_ms: u64, to_ms: u64) -> bool {
        (Duration::from_millis(from_ms)..Duration::from_millis(to_ms)).contains(&delay)
    }

    #[test]
    fn mqtt_reconnects_grow_to_ten_seconds_and_never_beyond() {
        let waits = delays(mqtt_reconnect(), 30);
        assert!(within(waits[0], 75, 150), "{:?}", waits[0]);
        assert!(within(waits[1], 150, 300), "{:?}", waits[1]);
        assert!(waits.iter().all(|d| *d <= MQTT_RECONNECT_LONGEST));
        assert!(waits[10..].iter().all(|d| within(*d, 5_000, 10_001)));
    }

    #[test]
    fn a_new_schedule_starts_over_at_the_first_delay() {
        let mut reconnect = mqtt_reconnect().build();
        reconnect.by_ref().take(20).for_each(drop);
        reconnect = mqtt_reconnect().build();
        assert!(reconnect.next().is_some_and(|d| within(d, 75, 150)));
    }

    #[test]
    fn store_retries_grow_from_fifty_milliseconds_to_five_seconds() {
        let waits = delays(store(), 30);
        assert!(within(waits[0], 50, 100), "{:?}", waits[0]);
        assert!(waits.iter().all(|d| *d <= STORE_LONGEST));
        assert!(waits[10..].iter().all(|d| within(*d, 2_500, 5_001)));
    }

    #[test]
    fn dispatch_retries_grow_to_the_longest_wait_and_never_beyond() {
        for longest in [1, 2, 30].map(Duration::from_secs) {
            let waits = delays(dispatch(longest), 50);
            assert!(waits[0] < Duration::from_millis(750), "{:?}", waits[0]);
            assert!(
                waits.iter().all(|d| *d <= longest),
                "{longest:?}: {waits:?}"
            );
            assert!(waits[20..].iter().all(|d| *d >= longest / 2));
        }
    }

    #[test]
    fn order_writes_are_checked_again_as_often_as_asked_at_most_80_ms_apart() {
        let waits = delays(order_write(7), 100);
        assert_eq!(waits.len(), 7);
        assert!(within(waits[0], 10, 20), "{:?}", waits[0]);
        assert!(waits.iter().all(|d| *d <= Duration::from_millis(80)));
    }
}
