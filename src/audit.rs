//! The audit log: one JSON line per write, flushed to disk before the write is
//! reported done.
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::action::{Action, Target};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Record {
    /// RFC 3339, UTC.
    pub time: String,
    pub context: String,
    pub user: String,
    pub namespace: String,
    /// e.g. `deployment/web`
    pub object: String,
    pub action: String,
    /// The equivalent command line.
    pub command: String,
    pub revision_before: Option<i64>,
    pub revision_after: Option<i64>,
    /// `ok`, `skipped`, or `error: ...` (a canary window: `pass`, `fail`, `inconclusive`)
    pub result: String,
    /// A canary's record: the plan, or a window's verdict with its numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl Record {
    /// The line for one write of `action` on `t` by `user` in `context`, stamped now;
    /// `revisions` before and after, `result` as it ended (`ok`, `error: ...`).
    /// Both backends write it, so the log reads the same whichever ran the write.
    pub fn write(
        context: &str,
        user: &str,
        t: &Target,
        action: &Action,
        revisions: (Option<i64>, Option<i64>),
        result: String,
    ) -> Record {
        Record {
            revision_before: revisions.0,
            revision_after: revisions.1,
            ..Record::on(context, user, t, action.verb(), action.describe(t), result)
        }
    }

    /// A line stamped now for `action` on the deployment `t`, without revisions or detail.
    fn on(
        context: &str,
        user: &str,
        t: &Target,
        action: &str,
        command: String,
        result: String,
    ) -> Record {
        Record {
            time: Timestamp::now().to_string(),
            context: context.into(),
            user: user.into(),
            namespace: t.namespace.clone(),
            object: format!("deployment/{}", t.name),
            action: action.into(),
            command,
            revision_before: None,
            revision_after: None,
            result,
            detail: None,
        }
    }

    /// A canary run's line: `action` (e.g. `canary-window`) on the stable `t`, with the
    /// run's command line and `detail` (a value that cannot be serialized is recorded as
    /// its error).
    pub fn canary<T: Serialize>(
        context: &str,
        user: &str,
        t: &Target,
        action: &str,
        command: String,
        result: &str,
        detail: &T,
    ) -> Record {
        let detail = serde_json::to_value(detail)
            .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() }));
        Record {
            detail: Some(detail),
            ..Record::on(context, user, t, action, command, result.into())
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and syncs it to disk.
    pub fn append(&self, r: &Record) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&line)?;
        f.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("sub/audit.jsonl"));
        let mut r = Record {
            time: "2026-01-01T00:00:00Z".into(),
            context: "kind".into(),
            user: "alice".into(),
            namespace: "prod".into(),
            object: "deployment/web".into(),
            action: "undo".into(),
            command: "tractor rollout undo deploy/web -n prod".into(),
            revision_before: Some(3),
            revision_after: Some(4),
            result: "ok".into(),
            detail: None,
        };
        log.append(&r).unwrap();
        r.result = "error: forbidden".into();
        log.append(&r).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["revision_before"], 3);
        assert_eq!(lines[1]["result"], "error: forbidden");
        assert_eq!(lines[1]["user"], "alice");
        assert!(
            lines[0].get("detail").is_none(),
            "no detail key on a write's line"
        );
    }
}
