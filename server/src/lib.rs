//! The Vangnet service: configuration, the adapters around the detection
//! engine (MQTT, store, HTTP) and start-up.
//! The binary `vangnet` in `main.rs` only parses the command line and calls in here.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub(crate) mod alert_board;
pub mod api;
pub mod audit;
pub mod audit_chain;
pub mod audit_seal;
pub(crate) mod auth;
pub(crate) mod backoff;
pub mod cli;
pub mod config;
pub mod console;
pub(crate) mod demo;
pub(crate) mod device_app;
pub mod device_http;
pub mod devices;
pub mod dispatch;
pub(crate) mod downlink;
pub mod health;
pub(crate) mod http;
pub(crate) mod incident;
pub(crate) mod ingest;
pub mod mqtt;
pub(crate) mod orders;
pub(crate) mod partitions;
pub(crate) mod probes;
pub mod push;
pub(crate) mod retention;
pub(crate) mod secret;
pub mod serve;
pub mod set_aside;
pub(crate) mod settings;
pub mod store;
pub mod telemetry;
pub(crate) mod watchdog;
pub(crate) mod web_files;
