//! Container logs of a deployment's pods, for the logs view and `tractor logs`: which
//! containers to read ([`select`], pure: all pods, one revision's or one pod, joining and
//! leaving as pods come and go), their lines ([`text`]: the API server's timestamps, a
//! prefix and a colour per pod), and the readers that open one stream per container
//! (the API server's `pods/log` in [`kube`], a local replica's log file in [`local`]).
//! [`ring`] keeps what the view shows, bounded; [`range`] is how far back it reads.
use std::time::Duration;

use jiff::Timestamp;

pub mod kube;
pub mod local;
pub mod range;
pub mod ring;
pub mod select;
pub mod streams;
pub mod text;

pub use select::{Filter, StreamKey};

/// What to read, besides which containers ([`Filter`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// The last terminated container's output instead of the running one's (what a
    /// crash-looping container printed before it died).
    pub previous: bool,
    /// Keep reading as lines come; new pods join.
    pub follow: bool,
    /// Only lines newer than this.
    pub since: Option<Duration>,
    /// Only the last N lines of each container at the start (pods that join later are read
    /// from their start).
    pub tail: Option<i64>,
}

/// One run of one container: after `restarts` restarts, its previous run is the one that
/// ended last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub restarts: i32,
}

/// What a crashed container printed last (its previous run), as the console read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastWords {
    Reading,
    /// The last lines, oldest first (empty: it printed nothing).
    Read(Vec<String>),
    /// Why they could not be read, in the API server's words.
    Failed(String),
}

/// One line a container printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: StreamKey,
    /// When the runtime took it (the API server's timestamp; `None` for a local file).
    pub at: Option<Timestamp>,
    pub text: String,
}

/// What a reader reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    Line(Line),
    /// A container's stream opened (it joined).
    Opened(StreamKey),
    /// A container's stream ended: its container stopped, or its pod went away.
    Closed(StreamKey),
    /// A container's stream could not be read: why, in the API server's words.
    Failed {
        stream: StreamKey,
        message: String,
    },
}
