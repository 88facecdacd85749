//! Per-device rate limits that forget a device once it has been quiet long
//! enough to be back at a full burst, so that their memory follows the
//! devices sending now, not every device ever heard.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use vangnet_proto::DeviceId;

/// A rate and a burst for each device.
pub(crate) struct DeviceLimits {
    limiter: DefaultKeyedRateLimiter<DeviceId>,
}

impl DeviceLimits {
    /// `per_second` messages a second for each device, in bursts of up to `burst`.
    pub(crate) fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }

    /// Whether `device` may send one more message now; counts it if so.
    pub(crate) fn allows(&self, device: &DeviceId) -> bool {
        self.limiter.check_key(device).is_ok()
    }

    /// Forgets the devices whose limit is full again: for them, being
    /// remembered and being forgotten allow exactly the same.
    pub(crate) fn forget_quiet(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many devices are remembered.
    pub(crate) fn remembered(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn device(id: &str) -> DeviceId {
        DeviceId::parse(id, "device").unwrap()
    }

    #[tokio::test]
    async fn a_device_quiet_for_a_full_burst_is_forgotten_and_a_busy_one_is_not() {
        let limits = DeviceLimits::new(NonZeroU32::new(100).unwrap(), NonZeroU32::MIN);
        let quiet = device("quiet");
        assert!(limits.allows(&quiet));
        let deadline = Instant::now() + Duration::from_secs(2);
        while limits.remembered() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
            limits.forget_quiet();
        }
        assert_eq!(limits.remembered(), 0);

        let busy = device("busy");
        assert!(limits.allows(&busy));
        assert!(!limits.allows(&busy));
        limits.forget_quiet();
        assert_eq!(
            limits.remembered(),
            1,
            "a device still limited is remembered"
        );
    }
}
