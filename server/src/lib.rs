//! The Vangnet service: configuration, adapters (HTTP so far) and start-up.
//! The binary `vangnet` in `main.rs` only parses the command line and calls in here.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cli;
pub mod config;
pub mod health;
pub mod http;
pub mod serve;
pub mod settings;
pub mod telemetry;
