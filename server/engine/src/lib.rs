//! Vangnet's detection engine: protection orders, GPS fixes, alarms and
//! silence in; alert revisions, device warnings, receipts and history out.
//!
//! Everything here is pure: `(state, event, now) -> (state, effects)`, with
//! no I/O, no clock and no async, so that the same events replayed give the
//! same alerts. The service feeds it validated messages (`vangnet-proto`)
//! and carries out the returned [`Effect`]s in order.
//!
//! Reading order: [`order`] (what an order is), [`geometry`] (distances),
//! [`classify`] (levels and hysteresis), [`track`] (outliers), [`dedup`],
//! [`alert`] (episodes and revisions), [`effect`], and the [`Engine`] facade.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alert;
pub mod classify;
pub mod config;
pub mod dedup;
mod detect;
pub mod effect;
mod engine;
pub mod geometry;
mod ids;
pub mod order;
mod slab;
pub mod state;
mod topology;
pub mod track;
mod view;
mod warning;

pub use alert::{Act, Alert, AlertError, Revision, Slot, without_positions};
pub use classify::Level;
pub use config::EngineConfig;
pub use effect::{Effect, StateKey};
pub use engine::{Engine, Event, UnknownOrder};
pub use ids::AlertIds;
pub use order::{Order, OrderError, Problem, Sibling};
pub use state::{DeviceState, OrderState};
pub use view::{DeviceView, OrderView, PairView, ZoneView};
