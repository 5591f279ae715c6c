//! Which side of a canary comparison a number belongs to.
use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revision {
    /// The new version under test.
    Canary,
    /// The version serving now, compared against in the same window.
    Stable,
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Revision::Canary => "canary",
            Revision::Stable => "stable",
        })
    }
}
