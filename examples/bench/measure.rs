//! What the load generators (`examples/echo_load.rs`, `examples/bench/fanout.rs`) share: the
//! numbers of their command lines, percentiles of sorted samples, and a process's CPU time from
//! Linux's `/proc`.

#![allow(dead_code)] // each load generator uses part of this module

/// Clock ticks per second of `utime` and `stime` in `/proc/PID/stat` (`getconf CLK_TCK`): the
/// kernel's USER_HZ, 100 on every Linux architecture in use. Fixed here rather than asked of
/// `sysconf`, which would take a `libc` dependency for one number.
pub const CLOCK_TICKS_PER_SECOND: u64 = 100;

/// The number given as `value` to the command-line option `option`.
///
/// # Errors
///
/// What to tell the user when `value` is not such a number.
pub fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{option} {value:?}: not a number"))
}

/// The `fraction` percentile of sorted values (nearest rank).
pub fn percentile(sorted: &[u32], fraction: f64) -> u32 {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The process's CPU time so far, user and system, all threads, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    cpu_times(pid).map(|times| times.user + times.system)
}

/// A process's CPU time in clock ticks, all threads: in user space (its own code and its
/// libraries') and in the kernel on its behalf (system calls: the sockets' work).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub system: u64,
}

impl CpuTimes {
    /// The time from `earlier` to this reading.
    pub fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The process's CPU time so far, user and system apart: fields 14 (`utime`) and 15 (`stime`)
/// of `/proc/PID/stat` (proc(5)).
pub fn cpu_times(pid: u32) -> Result<CpuTimes, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    // Field 2, the command name in parentheses, may hold spaces: count from the last ')'.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after_name.split_whitespace().skip(11);
    let mut field = || fields.next().and_then(|field| field.parse::<u64>().ok());
    match (field(), field()) {
        (Some(user), Some(system)) => Ok(CpuTimes { user, system }),
        _ => Err(format!("{path}: no utime and stime fields")),
    }
}
