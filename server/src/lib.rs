//! The Vangnet service: configuration, the adapters around the detection
//! engine (MQTT, store, HTTP) and start-up.
//! The binary `vangnet` in `main.rs` only parses the command line and calls in here.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alert_board;
pub mod api;
pub mod audit;
pub mod audit_chain;
pub mod auth;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod demo;
pub mod devices;
pub mod dispatch;
pub mod downlink;
pub mod health;
pub mod http;
pub mod ingest;
pub mod mqtt;
pub mod orders;
pub mod partitions;
pub mod probes;
pub mod retention;
pub mod secret;
pub mod serve;
pub mod set_aside;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod watchdog;
