//! Numbers that carry their unit and their valid range in the type, so an
//! out-of-range latitude or a NaN accuracy cannot exist past parsing.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

macro_rules! bounded_f64 {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            /// Smallest value allowed.
            pub const MIN: f64 = $min;
            /// Largest value allowed.
            pub const MAX: f64 = $max;

            /// `Some` when `value` is finite and within the range.
            pub fn new(value: f64) -> Option<Self> {
                (value.is_finite() && (Self::MIN..=Self::MAX).contains(&value)).then_some(Self(value))
            }

            /// The plain number.
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = f64::deserialize(deserializer)?;
                Self::new(value).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "{value} is outside {}..={}",
                        Self::MIN,
                        Self::MAX
                    ))
                })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Number)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Double,
                    )))
                    .minimum(Self::MIN.is_finite().then_some(Self::MIN))
                    .maximum((Self::MAX < f64::MAX).then_some(Self::MAX))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                stringify!($name).into()
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut schema = json_schema!({ "type": "number" });
                if Self::MIN.is_finite() {
                    schema.insert("minimum".into(), Self::MIN.into());
                }
                if Self::MAX.is_finite() {
                    schema.insert("maximum".into(), Self::MAX.into());
                }
                schema
            }
        }
    };
}

bounded_f64!(
    /// WGS84 latitude in degrees.
    Latitude,
    -90.0,
    90.0
);
bounded_f64!(
    /// WGS84 longitude in degrees.
    Longitude,
    -180.0,
    180.0
);
bounded_f64!(
    /// A non-negative distance in metres (accuracy radius, zone radius, alarm distance).
    Meters,
    0.0,
    f64::MAX
);
bounded_f64!(
    /// A non-negative ground speed in metres per second.
    MetersPerSecond,
    0.0,
    f64::MAX
);
bounded_f64!(
    /// A compass heading in degrees from north.
    Degrees,
    0.0,
    360.0
);
bounded_f64!(
    /// A battery charge in percent.
    BatteryPercent,
    0.0,
    100.0
);
