//! Why driving stops short of an outcome of its own, and the lease a save writes.
use std::time::Duration;

use super::{BackendError, DriveError, Outcome, Settings};

/// The lease a save writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ttl {
    Renew,
    Release,
    /// Held at least this long (a wait that cannot renew it).
    For(Duration),
}

/// How long removal may take (scale to 0, the pods leaving, the delete), for the lease.
pub(super) const REMOVE_TIME: Duration = Duration::from_secs(90);

/// Why driving stopped short of an outcome of its own.
pub(super) enum Halt {
    /// Someone else drives or ended the run, or the canary is gone.
    Lost(String),
    Error(DriveError),
}

impl From<DriveError> for Halt {
    fn from(e: DriveError) -> Self {
        match e {
            DriveError::Backend(b) => Halt::from(*b),
            e => Halt::Error(e),
        }
    }
}

/// A canary that is gone ends this console's run (a person aborted or promoted it, or
/// another console finished it); any other failure is an error.
impl From<BackendError> for Halt {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Gone { canary } => Halt::Lost(format!("deploy/{canary} was removed")),
            e => Halt::Error(e.into()),
        }
    }
}

impl From<crate::canary::steps::StepsError> for Halt {
    fn from(e: crate::canary::steps::StepsError) -> Self {
        Halt::Error(e.into())
    }
}

impl From<crate::canary::state::StateError> for Halt {
    fn from(e: crate::canary::state::StateError) -> Self {
        Halt::Error(e.into())
    }
}

pub(super) fn finish(r: Result<Outcome, Halt>) -> Result<Outcome, DriveError> {
    match r {
        Ok(o) => Ok(o),
        Err(Halt::Lost(why)) => Ok(Outcome::Lost { why }),
        Err(Halt::Error(e)) => Err(e),
    }
}

pub(super) fn refuse_read_only(s: &Settings, verb: &'static str) -> Result<(), DriveError> {
    if s.read_only {
        Err(DriveError::ReadOnly { verb })
    } else {
        Ok(())
    }
}
