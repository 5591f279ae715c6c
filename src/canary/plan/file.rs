//! The analysis file: the plan's settings in TOML, kept in git by a team (see
//! `config/canary.example.toml`). Reading it is the caller's; this parses it, keeps each
//! value's line for the messages, and refuses a TOML error, an unknown key or a value of the
//! wrong type at its line and key.
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{At, Field, PlanError};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileFields {
    pub(super) target: Option<Spanned<String>>,
    pub(super) model: Option<Spanned<String>>,
    pub(super) path: Option<Spanned<String>>,
    pub(super) container: Option<Spanned<String>>,
    pub(super) images: Option<Vec<Spanned<String>>>,
    pub(super) steps: Option<Spanned<String>>,
    pub(super) interval: Option<Spanned<String>>,
    pub(super) slos: Option<Vec<Spanned<String>>>,
    pub(super) compare: Option<FileCompare>,
    pub(super) failure_limit: Option<Spanned<u32>>,
    pub(super) inconclusive_limit: Option<Spanned<u32>>,
    pub(super) scrape_error_limit: Option<Spanned<u32>>,
    pub(super) max_duration: Option<Spanned<String>>,
    pub(super) progress_deadline: Option<Spanned<String>>,
    pub(super) min_requests: Option<Spanned<u64>>,
    pub(super) windows_per_step: Option<Spanned<u32>>,
}

/// `[compare]`: present turns the comparison on.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCompare {
    pub(super) confidence: Option<Spanned<f64>>,
    pub(super) min_effect: Option<Spanned<f64>>,
}

/// An analysis file, parsed (reading it is the caller's).
#[derive(Debug)]
pub struct AnalysisFile {
    path: PathBuf,
    text: String,
    pub(super) fields: FileFields,
}

impl AnalysisFile {
    /// `text`, the content of the file at `path`; a TOML error, an unknown key or a value of
    /// the wrong type is refused at its line.
    pub fn parse(path: &Path, text: &str) -> Result<AnalysisFile, PlanError> {
        let fields = toml::from_str(text).map_err(|e: toml::de::Error| {
            let (line, key) = e
                .span()
                .map(|s| crate::config::locate(text, s.start))
                .unwrap_or((0, "-".into()));
            PlanError::File {
                path: path.into(),
                line,
                key,
                message: e.message().trim().to_string(),
            }
        })?;
        Ok(AnalysisFile {
            path: path.into(),
            text: text.into(),
            fields,
        })
    }

    pub(super) fn at<T>(&self, value: &Spanned<T>, field: Field) -> At {
        let upto = self.text.get(..value.span().start).unwrap_or(&self.text);
        At::File {
            path: self.path.clone(),
            line: upto.matches('\n').count() + 1,
            field,
        }
    }
}

#[cfg(test)]
mod tests;
