//! CPU time and resident memory of processes, read from Linux `/proc`, to
//! show where a benchmark's time goes.

use std::time::Instant;

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user + system) `pid` has used, if it exists.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// Busy and total CPU ticks of the whole machine, all cores (`/proc/stat`).
fn machine_ticks() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    let total: f64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4).unwrap_or(&0.0);
    Some((total - idle, total))
}

/// Resident memory of `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The process listening on TCP `port` of this machine, if one is found
/// (a machine may run two brokers: the one under test is the one on its port).
pub fn listener_pid(port: u16) -> Option<u32> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    process_ids().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|link| {
                link.to_str()
                    .and_then(|l| l.strip_prefix("socket:["))
                    .and_then(|l| l.strip_suffix(']'))
                    .is_some_and(|inode| inodes.iter().any(|i| i == inode))
            })
    })
}

/// Socket inodes in state LISTEN on local `port`, IPv4 or IPv6.
fn listening_inodes(port: u16) -> Vec<String> {
    let local_port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let listening = fields.get(3) == Some(&"0A");
                    let on_port = fields.get(1).is_some_and(|a| a.ends_with(&local_port));
                    (listening && on_port).then(|| fields.get(9).map(|i| (*i).to_owned()))?
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn process_ids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
}

/// The label of the whole machine's share in [`CpuMeter::percentages`].
pub const MACHINE: &str = "machine";

/// Measures the CPU share of a few named processes over an interval.
#[derive(Debug, Clone)]
pub struct CpuMeter {
    processes: Vec<(&'static str, u32)>,
    baseline: Vec<Option<f64>>,
    machine_baseline: Option<(f64, f64)>,
    since: Instant,
}

impl CpuMeter {
    /// Watches `processes` (label, pid), starting now.
    pub fn new(processes: Vec<(&'static str, u32)>) -> Self {
        let mut meter = Self {
            processes,
            baseline: Vec::new(),
            machine_baseline: None,
            since: Instant::now(),
        };
        meter.restart();
        meter
    }

    /// Starts a new interval.
    pub fn restart(&mut self) {
        self.baseline = self
            .processes
            .iter()
            .map(|(_, pid)| cpu_seconds(*pid))
            .collect();
        self.machine_baseline = machine_ticks();
        self.since = Instant::now();
    }

    /// Each process's CPU use since the interval started, in % of one core,
    /// then the whole machine's (`machine`, % of all cores) to show other work.
    pub fn percentages(&self) -> Vec<(&'static str, Option<f64>)> {
        let elapsed = self.since.elapsed().as_secs_f64().max(1e-3);
        let machine = machine_ticks().zip(self.machine_baseline).map(
            |((busy, total), (busy_then, total_then))| {
                100.0 * (busy - busy_then) / (total - total_then).max(1.0)
            },
        );
        self.processes
            .iter()
            .zip(&self.baseline)
            .map(|((label, pid), before)| {
                let used = cpu_seconds(*pid).zip(*before).map(|(now, then)| now - then);
                (*label, used.map(|seconds| 100.0 * seconds / elapsed))
            })
            .chain([(MACHINE, machine)])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(rss_kib(me).is_some_and(|kib| kib > 0));
        assert!(machine_ticks().is_some_and(|(busy, total)| busy <= total));
    }

    #[test]
    fn the_listener_of_a_port_is_the_process_that_bound_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listener_pid(port), Some(std::process::id()));
        drop(listener);
        assert_eq!(listener_pid(port), None);
    }
}
