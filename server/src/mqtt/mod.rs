//! MQTT adapter: supervised connections ("lanes") to the broker, and the
//! embedded broker for running without one.

pub mod ack_order;
pub mod connection;
#[cfg(feature = "embedded-broker")]
pub mod embedded;
pub mod progress;
