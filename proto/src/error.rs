use std::fmt;

/// Why a message was rejected; its [`label`](RejectReason::label) is the
/// `reason` of `vangnet_rejected_messages_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The payload is not JSON.
    NotJson,
    /// A field has the wrong JSON type, or the payload is not an object.
    WrongType,
    /// A required field is absent.
    MissingField,
    /// `kind` is not one the protocol defines.
    UnknownKind,
    /// A latitude outside ±90°.
    LatOutOfRange,
    /// A longitude outside ±180°.
    LonOutOfRange,
    /// NaN, Infinity or a number too large for a 64-bit float.
    NonFinite,
    /// A negative accuracy radius.
    NegativeAcc,
    /// Another number outside its range (speed, heading, battery).
    OutOfRange,
    /// A payload over 64 KiB.
    TooLarge,
    /// A timestamp more than 5 minutes ahead of the server's clock.
    FutureTs,
    /// A `device` field that differs from the topic's device id.
    DeviceMismatch,
    /// A device id outside `[A-Za-z0-9_.-]{1,64}`.
    BadDeviceId,
    /// A batch of more than 500 fixes.
    BatchTooLarge,
    /// A topic outside the protocol's topic tree.
    BadTopic,
    /// A device that belongs to no active order.
    UnknownDevice,
    /// A retained message: the broker's copy of an old message, not the device speaking now.
    Retained,
}

impl RejectReason {
    /// Every reason, for tests and for pre-registering metric series.
    pub const ALL: [RejectReason; 17] = [
        Self::NotJson,
        Self::WrongType,
        Self::MissingField,
        Self::UnknownKind,
        Self::LatOutOfRange,
        Self::LonOutOfRange,
        Self::NonFinite,
        Self::NegativeAcc,
        Self::OutOfRange,
        Self::TooLarge,
        Self::FutureTs,
        Self::DeviceMismatch,
        Self::BadDeviceId,
        Self::BatchTooLarge,
        Self::BadTopic,
        Self::UnknownDevice,
        Self::Retained,
    ];

    /// The stable snake_case name used as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotJson => "not_json",
            Self::WrongType => "wrong_type",
            Self::MissingField => "missing_field",
            Self::UnknownKind => "unknown_kind",
            Self::LatOutOfRange => "lat_out_of_range",
            Self::LonOutOfRange => "lon_out_of_range",
            Self::NonFinite => "non_finite",
            Self::NegativeAcc => "negative_acc",
            Self::OutOfRange => "out_of_range",
            Self::TooLarge => "too_large",
            Self::FutureTs => "future_ts",
            Self::DeviceMismatch => "device_mismatch",
            Self::BadDeviceId => "bad_device_id",
            Self::BatchTooLarge => "batch_too_large",
            Self::BadTopic => "bad_topic",
            Self::UnknownDevice => "unknown_device",
            Self::Retained => "retained",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::NotJson => "not valid JSON",
            Self::WrongType => "wrong JSON type",
            Self::MissingField => "required field is missing",
            Self::UnknownKind => "unknown kind",
            Self::LatOutOfRange => "latitude outside -90..90",
            Self::LonOutOfRange => "longitude outside -180..180",
            Self::NonFinite => "number is NaN, infinite or out of range",
            Self::NegativeAcc => "accuracy is negative",
            Self::OutOfRange => "number outside its allowed range",
            Self::TooLarge => "payload larger than 64 KiB",
            Self::FutureTs => "timestamp more than 5 minutes in the future",
            Self::DeviceMismatch => "device differs from the topic's device id",
            Self::BadDeviceId => "device id must match [A-Za-z0-9_.-]{1,64}",
            Self::BatchTooLarge => "batch holds more than 500 fixes",
            Self::BadTopic => "topic is not part of the protocol",
            Self::UnknownDevice => "device is in no active order",
            Self::Retained => "retained messages on device topics are ignored",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A rejected message: which field, and why. Never carries the payload itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub struct ProtoError {
    /// Path of the offending field (`lat`, `fixes[3].acc`), or `payload`/`topic`.
    pub field: String,
    /// What is wrong with it.
    pub reason: RejectReason,
}

impl ProtoError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, reason: RejectReason) -> Self {
        Self {
            field: field.into(),
            reason,
        }
    }

    /// The same error for a field nested under `parent` (a batch element).
    pub(crate) fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}
