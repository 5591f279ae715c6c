//! Console configuration: `config/tractor.toml` is embedded and holds every
//! default; the user's file overrides any part of it. Errors name the key and line.
//!
//! Values are typed as they are read (`scrape.via` is a [`Via`], colours are ratatui
//! [`Color`]s), so a bad value is a parse error at its line, and nothing downstream matches
//! strings. This module imports nothing from the UI: the UI builds its theme from [`Colours`].
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::Color;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub mod keys;
pub use keys::{KeyMap, Keys};

/// The defaults, as shipped.
pub const DEFAULT_TOML: &str = include_str!("../config/tractor.toml");

/// Defines a section twice: complete (for the defaults) and with every field
/// optional (for a user's file, which may set any subset).
macro_rules! section {
    ($name:ident, $partial:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $(pub $field: $ty),* }

        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $partial { $($field: Option<$ty>),* }

        impl $partial {
            fn apply(self, base: &mut $name) {
                $(if let Some(v) = self.$field { base.$field = v; })*
            }
        }
    };
}

section!(General, PartialGeneral {
    tick_ms: u64,
    max_events: usize,
    log_lines: usize,
    log_tail: u32,
    history_points: usize,
    read_only: bool,
    read_only_contexts: Vec<String>,
    audit_log: String,
    log_file: String,
    follow_timeout_s: u64,
    container: String,
});

section!(
    Slo,
    PartialSlo {
        p99_ms: f64,
        error_rate: f64
    }
);

/// How the console reaches each pod's `/metrics` (`scrape.via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// `/api/v1/namespaces/NS/pods/NAME:PORT/proxy/metrics` through the API server.
    /// The API server refuses to proxy to loopback pod IPs ("address not allowed").
    Proxy,
    /// `http://POD_IP:PORT/metrics` directly.
    PodIp,
}

section!(
    Scrape,
    PartialScrape {
        via: Via,
        interval_ms: u64,
        concurrency: usize,
        timeout_ms: u64,
        max_pods: usize
    }
);

/// Where the model servers' figures come from (`metrics.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricsSource {
    /// Each serving pod's `/metrics`, as `[scrape]` says.
    Scrape,
    /// A Prometheus-compatible HTTP API.
    Prometheus,
}

/// How a Prometheus is reached (`metrics.via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromVia {
    /// `metrics.url`.
    Url,
    /// `/api/v1/namespaces/NS/services/NAME:PORT/proxy/` through the API server, with the
    /// kubeconfig's credentials.
    ServiceProxy,
}

section!(
    Metrics,
    PartialMetrics {
        source: MetricsSource,
        url: String,
        via: PromVia,
        namespace: String,
        service: String,
        port: String,
        bearer_token_env: String,
        bearer_token_file: String,
        basic_user: String,
        basic_password_env: String,
        basic_password_file: String,
        cacert: String,
        namespace_label: String,
        pod_label: String,
        window_s: u64,
        backfill_min: u64,
    }
);

/// A colour as written in the config: anything ratatui's `Color: FromStr` reads (a name like
/// `cyan` or `darkgray`, `#rrggbb`, or an index 0-255).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub Color);

impl FromStr for Colour {
    type Err = BadColour;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Color::from_str(s)
            .map(Colour)
            .map_err(|_| BadColour(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a colour (a name like cyan or darkgray, or #rrggbb)")]
pub struct BadColour(pub String);

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Colour {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

section!(
    Colours,
    PartialColours {
        header: Colour,
        selected: Colour,
        ok: Colour,
        warn: Colour,
        bad: Colour,
        muted: Colour,
        accent: Colour,
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub general: General,
    pub slo: Slo,
    pub scrape: Scrape,
    pub metrics: Metrics,
    pub keys: Keys,
    pub theme: Colours,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialConfig {
    general: Option<PartialGeneral>,
    slo: Option<PartialSlo>,
    scrape: Option<PartialScrape>,
    metrics: Option<PartialMetrics>,
    keys: Option<BTreeMap<String, Vec<String>>>,
    theme: Option<PartialColours>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}, key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

impl ConfigError {
    /// A TOML or serde error (a value of the wrong type, an unknown key or variant, a bad
    /// colour), placed at the line and dotted key of its span.
    fn parse(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
        let (line, key) = e
            .span()
            .map(|s| locate(text, s.start))
            .unwrap_or((0, String::from("-")));
        ConfigError::Invalid {
            path: path.into(),
            line,
            key,
            message: e.message().trim().to_string(),
        }
    }
}

impl Config {
    /// The embedded defaults alone, or why they do not parse.
    pub fn embedded() -> Result<Config, ConfigError> {
        toml::from_str(DEFAULT_TOML).map_err(|e| {
            ConfigError::parse(
                Path::new("(embedded) config/tractor.toml"),
                DEFAULT_TOML,
                &e,
            )
        })
    }

    /// The embedded defaults alone, for callers that have no error path (tests, benches, the
    /// help text). Loading a user's file goes through [`Config::embedded`] instead.
    pub fn defaults() -> Config {
        // The embedded file is a compile-time constant checked by the tests
        // (`embedded_defaults_are_complete_and_valid`): it cannot fail at runtime.
        #[allow(clippy::expect_used)]
        Config::embedded().expect("embedded config/tractor.toml is valid")
    }

    /// Defaults overridden by `text` (the content of the file at `path`).
    pub fn from_override(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut cfg = Config::embedded()?;
        let partial: PartialConfig =
            toml::from_str(text).map_err(|e| ConfigError::parse(path, text, &e))?;
        let invalid = |section: &str, key: &str, message: String| ConfigError::Invalid {
            path: path.into(),
            line: line_of(text, section, key).unwrap_or(0),
            key: format!("{section}.{key}"),
            message,
        };
        if let Some(g) = partial.general {
            g.apply(&mut cfg.general);
        }
        if let Some(s) = partial.slo {
            s.apply(&mut cfg.slo);
        }
        if let Some(s) = partial.scrape {
            s.apply(&mut cfg.scrape);
        }
        if let Some(m) = partial.metrics {
            m.apply(&mut cfg.metrics);
        }
        if let Some(t) = partial.theme {
            t.apply(&mut cfg.theme);
        }
        if let Some(k) = partial.keys {
            for (action, list) in k {
                cfg.keys
                    .set(&action, list)
                    .map_err(|m| invalid("keys", &action, m.to_string()))?;
            }
        }
        cfg.validate()
            .map_err(|(section, key, m)| invalid(section, key, m))?;
        Ok(cfg)
    }

    /// The user's file: `explicit` (--config, must exist), else the XDG one if present.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.exists() => p,
                _ => return Config::embedded(),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::from_override(&path, &text)
    }

    fn validate(&self) -> Result<(), (&'static str, &'static str, String)> {
        let g = &self.general;
        if g.tick_ms < 50 || g.tick_ms > 60_000 {
            return Err((
                "general",
                "tick_ms",
                format!("must be 50..=60000, got {}", g.tick_ms),
            ));
        }
        if g.history_points == 0 {
            return Err(("general", "history_points", "must be at least 1".into()));
        }
        if self.slo.p99_ms <= 0.0 || !self.slo.p99_ms.is_finite() {
            return Err((
                "slo",
                "p99_ms",
                format!("must be a positive number, got {}", self.slo.p99_ms),
            ));
        }
        if !(0.0..=1.0).contains(&self.slo.error_rate) {
            return Err((
                "slo",
                "error_rate",
                format!("must be within 0..=1, got {}", self.slo.error_rate),
            ));
        }
        if self.scrape.interval_ms < 100 {
            return Err((
                "scrape",
                "interval_ms",
                format!("must be at least 100, got {}", self.scrape.interval_ms),
            ));
        }
        if self.scrape.concurrency == 0 {
            return Err(("scrape", "concurrency", "must be at least 1".into()));
        }
        Ok(())
    }

    /// Is `context` read-only by this configuration?
    pub fn read_only_for(&self, context: &str) -> bool {
        self.general.read_only
            || self
                .general
                .read_only_contexts
                .iter()
                .any(|p| match p.strip_suffix('*') {
                    Some(prefix) => context.starts_with(prefix),
                    None => p == context,
                })
    }
}

pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("tractor").join("config.toml"))
}

/// Where logs and the audit log go when the config leaves them empty.
pub fn state_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("tractor")
}

/// The 1-based line of a byte offset and the dotted key written there.
pub(crate) fn locate(text: &str, offset: usize) -> (usize, String) {
    let upto = &text[..offset.min(text.len())];
    let line = upto.matches('\n').count() + 1;
    let mut section = String::new();
    let mut key = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if i + 1 > line {
            break;
        }
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            key.clear();
        } else if let Some((k, _)) = t.split_once('=') {
            key = k.trim().to_string();
        }
    }
    let dotted = match (section.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => section,
        (false, false) => format!("{section}.{key}"),
    };
    (
        line,
        if dotted.is_empty() {
            "-".into()
        } else {
            dotted
        },
    )
}

fn line_of(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else if current == section
            && let Some((k, _)) = t.split_once('=')
            && k.trim().trim_matches('"') == key
        {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests;
