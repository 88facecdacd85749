use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::{ProtoError, RejectReason};

/// A device's identity as it appears in MQTT topics: `[A-Za-z0-9_.-]{1,64}`.
// Shared text, so that the many effects and keys naming one device cost no copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema, ToSchema)]
#[schema(value_type = String, pattern = r"^[A-Za-z0-9_.-]{1,64}$", min_length = 1, max_length = 64)]
pub struct DeviceId(
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"), length(min = 1, max = 64))] Arc<str>,
);

impl DeviceId {
    /// Longest device id accepted.
    pub const MAX_LEN: usize = 64;

    /// Validates `id`; `field` names where it came from in the error.
    pub fn parse(id: &str, field: &str) -> Result<Self, ProtoError> {
        let valid = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if valid {
            Ok(Self(Arc::from(id)))
        } else {
            Err(ProtoError::new(field, RejectReason::BadDeviceId))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for DeviceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        DeviceId::parse(&text, "device").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet() {
        assert!(DeviceId::parse("v-17_a.B9", "device").is_ok());
    }

    #[test]
    fn rejects_empty_long_and_foreign_characters() {
        for bad in ["", &"x".repeat(65), "a/b", "a+b", "a#", "é", "a b"] {
            let err = DeviceId::parse(bad, "device").unwrap_err();
            assert_eq!(err.reason, RejectReason::BadDeviceId, "{bad:?}");
        }
    }
}
