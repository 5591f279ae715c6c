//! The console measuring itself, for the scale benchmark (`scripts/bench-scale-cluster`):
//! with `TRACTOR_PERF_LOG=FILE` the UI loop appends one JSON line a second with the objects
//! it holds, the watch sources that are live, the objects complete lists brought in, the
//! frames it drew and how long each took, and its resident memory and CPU time. Without the
//! variable nothing is measured.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::event::{AppEvent, ClusterDelta, SourceStatus};
use crate::state::State;

/// The environment variable naming the file.
pub const ENV: &str = "TRACTOR_PERF_LOG";
const EVERY: Duration = Duration::from_secs(1);

pub struct PerfLog {
    out: BufWriter<File>,
    started: Instant,
    last: Instant,
    /// Frame times since the last line, in microseconds.
    frames: Vec<u32>,
    /// Cluster deltas received since the last line.
    deltas: u64,
    /// Objects delivered by complete lists since the start.
    listed: u64,
}

/// One line of the file.
#[derive(Debug, Serialize)]
pub struct Line<'a> {
    /// Milliseconds since the console started.
    pub t_ms: u64,
    pub pods: usize,
    pub deployments: usize,
    pub replicasets: usize,
    pub hpas: usize,
    pub events: usize,
    /// Watch sources live, of all the sources.
    pub live: usize,
    pub sources: usize,
    pub listed: u64,
    pub deltas: u64,
    /// Each frame's time: the batch of events that woke the loop, and the draw (µs).
    pub frames_us: &'a [u32],
    pub rss_kb: Option<u64>,
    pub hwm_kb: Option<u64>,
    /// User and system CPU time of the process since it started.
    pub cpu_ms: Option<u64>,
}

impl PerfLog {
    /// The log `TRACTOR_PERF_LOG` asks for; a file that cannot be made is warned of in the
    /// console's log and nothing is measured.
    pub fn from_env() -> Option<PerfLog> {
        let path = std::env::var_os(ENV)?;
        match PerfLog::create(Path::new(&path)) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(path = %Path::new(&path).display(), error = %e, "{ENV}: cannot create the file; not measuring");
                None
            }
        }
    }

    pub fn create(path: &Path) -> std::io::Result<PerfLog> {
        let now = Instant::now();
        Ok(PerfLog {
            out: BufWriter::new(File::create(path)?),
            started: now,
            last: now,
            frames: Vec::new(),
            deltas: 0,
            listed: 0,
        })
    }

    /// Counts an event on its way to `update`.
    pub fn event(&mut self, ev: &AppEvent) {
        if let AppEvent::Kube(d) = ev {
            self.deltas += 1;
            if let ClusterDelta::Resynced { objects, .. } = d {
                self.listed += objects.len() as u64;
            }
        }
    }

    pub fn frame(&mut self, took: Duration) {
        self.frames
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    /// Writes a line when a second has passed since the last one.
    pub fn maybe_write(&mut self, s: &State) {
        if self.last.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        let (rss_kb, hwm_kb) = memory();
        let line = Line {
            t_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            pods: s.cluster.pods.len(),
            deployments: s.cluster.deployments.len(),
            replicasets: s.cluster.replicasets.len(),
            hpas: s.cluster.hpas.len(),
            events: s.cluster.events.len(),
            live: s
                .sources
                .values()
                .filter(|v| matches!(v, SourceStatus::Live))
                .count(),
            sources: s.sources.len(),
            listed: self.listed,
            deltas: self.deltas,
            frames_us: &self.frames,
            rss_kb,
            hwm_kb,
            cpu_ms: cpu_ms(),
        };
        let written = serde_json::to_writer(&mut self.out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            tracing::warn!(error = %e, "{ENV}: cannot write");
        }
        self.frames.clear();
        self.deltas = 0;
    }
}

/// Resident and peak resident memory (kB) from /proc/self/status.
fn memory() -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    (field_kb(&status, "VmRSS:"), field_kb(&status, "VmHWM:"))
}

fn field_kb(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// utime + stime from /proc/self/stat, in milliseconds.
fn cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_ms_of(&stat, clock_ticks())
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf reads a constant of the system and has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// The fields after the command's closing parenthesis (which may itself hold spaces):
/// utime and stime are the 12th and 13th of them.
fn cpu_ms_of(stat: &str, ticks: u64) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some((utime + stime) * 1000 / ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_past_a_command_name_with_spaces() {
        let stat = "4242 (tokio rt) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100 0 0";
        assert_eq!(cpu_ms_of(stat, 100), Some(3000));
        assert_eq!(cpu_ms_of(stat, 1000), Some(300));
        assert_eq!(cpu_ms_of("garbage", 100), None);
    }

    #[test]
    fn memory_fields_in_kb() {
        let status = "Name:\ttractor\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(field_kb(status, "VmRSS:"), Some(102_400));
        assert_eq!(field_kb(status, "VmHWM:"), Some(204_800));
        assert_eq!(field_kb(status, "VmSwap:"), None);
    }

    #[test]
    fn a_line_a_second_with_the_frames_and_the_listed_objects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("perf.jsonl");
        let mut p = PerfLog::create(&path).unwrap();
        p.event(&AppEvent::Kube(ClusterDelta::Resynced {
            source: crate::event::Source {
                kind: crate::event::Kind::Pod,
                namespace: None,
            },
            objects: Vec::new(),
        }));
        p.frame(Duration::from_micros(1500));
        let s = State::new(
            crate::config::Config::embedded().unwrap(),
            "ctx".into(),
            "me".into(),
            jiff::Timestamp::now(),
        );
        p.maybe_write(&s); // under a second: nothing yet
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        p.last -= EVERY;
        p.maybe_write(&s);
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["frames_us"], serde_json::json!([1500]));
        assert_eq!(v["deltas"], 1);
        assert_eq!(v["pods"], 0);
        assert!(v["rss_kb"].as_u64().unwrap() > 0, "{v}");
        assert!(p.frames.is_empty() && p.deltas == 0);
    }
}
