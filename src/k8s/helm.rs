//! `helm rollback` for a Deployment a Helm release manages: a direct undo would be put back
//! by the next `helm upgrade`, so `u` offers the release's own rollback. The preview is
//! the release's history (`helm history -o json`) and the command; the write runs the real
//! `helm` binary (with the console's kubeconfig and context), audited, its output shown.
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One revision of a release, as `helm history -o json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Release {
    pub revision: i64,
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub chart: String,
    #[serde(default)]
    pub app_version: String,
    #[serde(default)]
    pub description: String,
}

/// Why a Helm rollback cannot be previewed or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelmError {
    #[error(
        "helm is not on PATH: roll the release back with `helm rollback {release} REVISION -n {namespace}`"
    )]
    NotInstalled { release: String, namespace: String },
    #[error("`{command}` failed: {output}")]
    Failed { command: String, output: String },
    #[error("`helm history` printed something that is not its JSON: {0}")]
    Unreadable(String),
    #[error("release {release} has no revision before {current} to roll back to")]
    NothingBefore { release: String, current: i64 },
    #[error("release {release} has no revision {revision} (its revisions: {known})")]
    NoRevision {
        release: String,
        revision: i64,
        known: String,
    },
}

/// The `helm` binary on PATH, if any.
pub fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("helm"))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub fn parse_history(json: &str) -> Result<Vec<Release>, HelmError> {
    serde_json::from_str(json).map_err(|e| HelmError::Unreadable(e.to_string()))
}

/// The revision to go back to: `wanted`, or the one before the deployed one.
pub fn target(release: &str, history: &[Release], wanted: Option<i64>) -> Result<i64, HelmError> {
    if let Some(w) = wanted {
        if history.iter().any(|r| r.revision == w) {
            return Ok(w);
        }
        let known: Vec<String> = history.iter().map(|r| r.revision.to_string()).collect();
        return Err(HelmError::NoRevision {
            release: release.into(),
            revision: w,
            known: known.join(", "),
        });
    }
    let current = history
        .iter()
        .filter(|r| r.status == "deployed")
        .map(|r| r.revision)
        .max()
        .or_else(|| history.iter().map(|r| r.revision).max())
        .unwrap_or(0);
    history
        .iter()
        .map(|r| r.revision)
        .filter(|r| *r < current)
        .max()
        .ok_or(HelmError::NothingBefore {
            release: release.into(),
            current,
        })
}

/// The preview: the command, then the history, newest first, the target marked.
pub fn preview(release: &str, namespace: &str, history: &[Release], to: i64) -> Vec<String> {
    let mut lines =
        vec![
        format!("runs: helm rollback {release} {to} -n {namespace}"),
        "Helm makes a new release revision with revision {to}'s manifests; the Deployment follows"
            .replace("{to}", &to.to_string()),
        format!("{:>4}  {:<10}  {:<22}  {:<10}  DESCRIPTION", "REV", "STATUS", "CHART", "APP"),
    ];
    let mut sorted: Vec<&Release> = history.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.revision));
    for r in sorted.into_iter().take(8) {
        let mark = if r.revision == to { "→" } else { " " };
        lines.push(format!(
            "{mark}{:>3}  {:<10}  {:<22}  {:<10}  {}",
            r.revision, r.status, r.chart, r.app_version, r.description
        ));
    }
    lines
}

/// Runs `helm ARGS` with the console's kubeconfig and context; its output, or why not.
pub async fn run(
    helm: &Path,
    kubeconfig: Option<&Path>,
    context: &str,
    args: Vec<String>,
) -> Result<String, HelmError> {
    let mut cmd = std::process::Command::new(helm);
    if let Some(k) = kubeconfig {
        cmd.arg("--kubeconfig").arg(k);
    }
    cmd.arg("--kube-context").arg(context).args(&args);
    let command = format!("helm {}", args.join(" "));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| HelmError::Failed {
            command: command.clone(),
            output: e.to_string(),
        })?
        .map_err(|e| HelmError::Failed {
            command: command.clone(),
            output: e.to_string(),
        })?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(HelmError::Failed {
            command,
            output: text(&out.stderr),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HISTORY: &str = r#"[
      {"revision":1,"updated":"2026-11-30T10:00:00Z","status":"superseded","chart":"tractor-serve-0.1.0","app_version":"0.1.0","description":"Install complete"},
      {"revision":2,"updated":"2026-11-30T11:00:00Z","status":"superseded","chart":"tractor-serve-0.1.0","app_version":"0.1.0","description":"Upgrade complete"},
      {"revision":3,"updated":"2026-11-30T12:00:00Z","status":"deployed","chart":"tractor-serve-0.1.0","app_version":"0.1.0","description":"Upgrade complete"}
    ]"#;

    #[test]
    fn the_revision_before_the_deployed_one_or_the_one_asked() {
        let h = parse_history(HISTORY).unwrap();
        assert_eq!(target("web", &h, None), Ok(2));
        assert_eq!(target("web", &h, Some(1)), Ok(1));
        assert_eq!(
            target("web", &h, Some(9)).unwrap_err().to_string(),
            "release web has no revision 9 (its revisions: 1, 2, 3)"
        );
        let first = parse_history(r#"[{"revision":1,"status":"deployed"}]"#).unwrap();
        assert!(matches!(
            target("web", &first, None),
            Err(HelmError::NothingBefore { current: 1, .. })
        ));
        assert!(matches!(
            parse_history("Error: not json"),
            Err(HelmError::Unreadable(_))
        ));
    }

    #[test]
    fn the_preview_names_the_command_and_marks_the_target() {
        let h = parse_history(HISTORY).unwrap();
        let lines = preview("web", "ml", &h, 2);
        assert_eq!(lines[0], "runs: helm rollback web 2 -n ml");
        let marked: Vec<&String> = lines.iter().filter(|l| l.starts_with('→')).collect();
        assert_eq!(marked.len(), 1);
        assert!(marked[0].contains("  2  superseded"), "{lines:?}");
        // newest first
        let revs: Vec<String> = lines[3..]
            .iter()
            .map(|l| {
                l.chars()
                    .skip(1)
                    .take(3)
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .collect();
        assert_eq!(revs, ["3", "2", "1"]);
    }
}
