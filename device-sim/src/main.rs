//! `vangnet-sim`: simulated devices, scenarios and a fake police dispatch
//! endpoint for pilots and tests.

use clap::Parser;

/// Simulated Vangnet devices and a fake police dispatch endpoint.
#[derive(Debug, Parser)]
#[command(name = "vangnet-sim", version, about)]
struct Cli {}

fn main() {
    Cli::parse();
}
