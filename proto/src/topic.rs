//! The MQTT topic tree under a configurable prefix (docs/protocol.md#topics).

use crate::{DeviceId, ProtoError, RejectReason};

/// The uplink channel a message arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `devices/{id}/loc`: fixes.
    Loc,
    /// `devices/{id}/alarm`: alarms; travels on the panic lane.
    Alarm,
    /// `devices/{id}/status`: status events.
    Status,
}

impl Channel {
    /// Every uplink channel.
    pub const ALL: [Channel; 3] = [Channel::Loc, Channel::Alarm, Channel::Status];

    /// The topic's last level.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Loc => "loc",
            Channel::Alarm => "alarm",
            Channel::Status => "status",
        }
    }
}

/// A configured prefix is unusable as a topic root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topic prefix must be non-empty, without wildcards (+, #), NUL or a leading/trailing '/'")]
pub struct TopicError;

/// Builds and parses the topics under one prefix (default `vangnet/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// The topic root when none is configured.
    pub const DEFAULT_PREFIX: &'static str = "vangnet/v1";
    /// Topic filter of the opt-in OwnTracks location messages.
    pub const OWNTRACKS_FILTER: &'static str = "owntracks/+/+";

    /// Checks `prefix` and makes the topic tree under it.
    pub fn new(prefix: &str) -> Result<Self, TopicError> {
        let usable = !prefix.is_empty()
            && !prefix.starts_with('/')
            && !prefix.ends_with('/')
            && !prefix.contains(['+', '#', '\0']);
        usable
            .then(|| Self {
                prefix: prefix.to_owned(),
            })
            .ok_or(TopicError)
    }

    /// The root all topics live under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefix as Vangnet's MQTT client ids carry it (`{instance}-{this}-{lane}`),
    /// every character but ASCII letters, digits and `-` made `_`, so that
    /// tools can find the sessions of one deployment.
    pub fn client_id_part(&self) -> String {
        self.prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Subscription filter for one uplink channel of every device.
    pub fn uplink_filter(&self, channel: Channel) -> String {
        format!("{}/devices/+/{}", self.prefix, channel.as_str())
    }

    /// Topic a device publishes `channel` messages on.
    pub fn uplink(&self, device: &DeviceId, channel: Channel) -> String {
        format!("{}/devices/{device}/{}", self.prefix, channel.as_str())
    }

    /// Topic of the receipts for a device's alarms.
    pub fn ack(&self, device: &DeviceId) -> String {
        format!("{}/devices/{device}/ack", self.prefix)
    }

    /// Topic of warnings and instructions to a device.
    pub fn cmd(&self, device: &DeviceId) -> String {
        format!("{}/devices/{device}/cmd", self.prefix)
    }

    /// Splits an uplink topic into its device and channel.
    pub fn parse_uplink(&self, topic: &str) -> Result<(DeviceId, Channel), ProtoError> {
        let bad_topic = || ProtoError::new("topic", RejectReason::BadTopic);
        let rest = topic
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix("/devices/"))
            .ok_or_else(bad_topic)?;
        let (device, channel) = rest.rsplit_once('/').ok_or_else(bad_topic)?;
        let channel = match channel {
            "loc" => Channel::Loc,
            "alarm" => Channel::Alarm,
            "status" => Channel::Status,
            _ => return Err(bad_topic()),
        };
        Ok((DeviceId::parse(device, "topic")?, channel))
    }

    /// The device of an OwnTracks topic `owntracks/{user}/{device}`: `{user}.{device}`.
    pub fn parse_owntracks(topic: &str) -> Result<DeviceId, ProtoError> {
        let bad_topic = || ProtoError::new("topic", RejectReason::BadTopic);
        let rest = topic.strip_prefix("owntracks/").ok_or_else(bad_topic)?;
        let (user, device) = rest.split_once('/').ok_or_else(bad_topic)?;
        if device.contains('/') {
            return Err(bad_topic());
        }
        DeviceId::parse(&format!("{user}.{device}"), "topic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Topics {
        Topics::new("pilot/rotterdam").unwrap()
    }

    #[test]
    fn a_client_id_carries_the_prefix_with_only_letters_digits_and_dashes() {
        assert_eq!(
            Topics::new("pilot/rot-2.a").unwrap().client_id_part(),
            "pilot_rot-2_a"
        );
    }

    #[test]
    fn uplink_topics_round_trip() {
        let device = DeviceId::parse("v-17", "device").unwrap();
        for channel in Channel::ALL {
            let topic = topics().uplink(&device, channel);
            assert_eq!(topics().parse_uplink(&topic), Ok((device.clone(), channel)));
        }
    }

    #[test]
    fn filters_and_downlink_topics_use_the_prefix() {
        let device = DeviceId::parse("p-1", "device").unwrap();
        assert_eq!(
            topics().uplink_filter(Channel::Alarm),
            "pilot/rotterdam/devices/+/alarm"
        );
        assert_eq!(topics().ack(&device), "pilot/rotterdam/devices/p-1/ack");
        assert_eq!(topics().cmd(&device), "pilot/rotterdam/devices/p-1/cmd");
    }

    #[test]
    fn topics_outside_the_tree_are_bad_topics() {
        for topic in [
            "vangnet/v1/devices/x/loc",
            "pilot/rotterdam/devices/x/cmd",
            "pilot/rotterdam/devices/loc",
            "pilot/rotterdam/other/x/loc",
        ] {
            let err = topics().parse_uplink(topic).unwrap_err();
            assert_eq!(err.reason, RejectReason::BadTopic, "{topic}");
        }
    }

    #[test]
    fn a_bad_device_id_in_the_topic_is_rejected() {
        let err = topics()
            .parse_uplink("pilot/rotterdam/devices/a/b/loc")
            .unwrap_err();
        assert_eq!(err.reason, RejectReason::BadDeviceId);
    }

    #[test]
    fn prefixes_with_wildcards_or_slashes_at_the_ends_are_refused() {
        for prefix in ["", "/a", "a/", "a/+", "a/#"] {
            assert_eq!(Topics::new(prefix), Err(TopicError), "{prefix:?}");
        }
    }

    #[test]
    fn owntracks_topics_name_user_dot_device() {
        let device = Topics::parse_owntracks("owntracks/anna/phone").unwrap();
        assert_eq!(device.as_str(), "anna.phone");
        assert!(Topics::parse_owntracks("owntracks/anna").is_err());
        assert!(Topics::parse_owntracks("owntracks/anna/phone/extra").is_err());
    }
}
