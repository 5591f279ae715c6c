//! `u` on a Helm release's Deployment, carried out: the preview from `helm history` and the
//! write with `helm rollback`, audited (the pure half is in [`super::helm`]).
use std::path::{Path, PathBuf};

use super::helm::{HelmError, Release, on_path, parse_history, preview, run, target};

use super::runner::Runner;
use crate::action::{Action, Target};
use crate::audit::Record;
use crate::event::EffectResult;
use crate::failure::Failure;

impl Runner {
    /// The binary, or why a Helm rollback cannot be run from here.
    fn helm(&self, t: &Target, release: &str) -> Result<PathBuf, Failure> {
        if self.read_only {
            return Err(Failure::ReadOnly {
                verb: "helm-rollback",
            });
        }
        on_path().ok_or_else(|| {
            Failure::Helm(HelmError::NotInstalled {
                release: release.into(),
                namespace: t.namespace.clone(),
            })
        })
    }

    async fn history(
        &self,
        helm: &Path,
        t: &Target,
        release: &str,
    ) -> Result<Vec<Release>, Failure> {
        let args = [
            "history",
            release,
            "-n",
            &t.namespace,
            "-o",
            "json",
            "--max",
            "20",
        ];
        let out = run(
            helm,
            self.kubeconfig.as_deref(),
            &self.context,
            args.iter().map(|s| s.to_string()).collect(),
        )
        .await
        .map_err(Failure::Helm)?;
        parse_history(&out).map_err(Failure::Helm)
    }

    /// The preview of `helm rollback`: the release's history and the revision it goes to.
    pub async fn helm_prepare(
        &self,
        t: &Target,
        release: &str,
        revision: Option<i64>,
    ) -> EffectResult {
        let asked = Action::HelmRollback {
            release: release.into(),
            revision,
        };
        let result = async {
            let helm = self.helm(t, release)?;
            let history = self.history(&helm, t, release).await?;
            let to = target(release, &history, revision).map_err(Failure::Helm)?;
            Ok::<_, Failure>((to, preview(release, &t.namespace, &history, to)))
        }
        .await;
        match result {
            Ok((to, notes)) => EffectResult::Prepared {
                target: t.clone(),
                action: Action::HelmRollback {
                    release: release.into(),
                    revision: Some(to),
                },
                changes: Vec::new(),
                notes,
            },
            Err(f) => EffectResult::failed(t, asked, f),
        }
    }

    /// Runs `helm rollback RELEASE REVISION -n NS`, audited; its output is the message.
    pub async fn helm_execute(
        &self,
        t: &Target,
        release: &str,
        revision: Option<i64>,
    ) -> EffectResult {
        let helm = match self.helm(t, release) {
            Ok(h) => h,
            Err(f) => {
                let a = Action::HelmRollback {
                    release: release.into(),
                    revision,
                };
                return EffectResult::failed(t, a, f);
            }
        };
        let to = match revision {
            Some(r) => Ok(r),
            None => match self.history(&helm, t, release).await {
                Ok(h) => target(release, &h, None).map_err(Failure::Helm),
                Err(f) => Err(f),
            },
        };
        let action = Action::HelmRollback {
            release: release.into(),
            revision: to.as_ref().ok().copied(),
        };
        let to = match to {
            Ok(r) => r,
            Err(f) => return EffectResult::failed(t, action, f),
        };
        let before = self
            .load(t)
            .await
            .ok()
            .and_then(|(d, _)| crate::model::revision(&d.metadata));
        let args = vec![
            "rollback".to_string(),
            release.to_string(),
            to.to_string(),
            "-n".into(),
            t.namespace.clone(),
        ];
        let out = run(&helm, self.kubeconfig.as_deref(), &self.context, args).await;
        let result = match &out {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let record = Record::write(
            &self.context,
            &self.user,
            t,
            &action,
            (before, None),
            result,
        );
        if let Err(io) = self.audit.append(&record) {
            tracing::error!(error = %io, "audit log write failed");
            if out.is_ok() {
                return EffectResult::failed(
                    t,
                    action,
                    Failure::Audit {
                        path: self.audit.path().to_path_buf(),
                        detail: io.to_string(),
                    },
                );
            }
        }
        match out {
            Ok(text) => EffectResult::Done {
                target: t.clone(),
                action,
                message: format!(
                    "helm rollback {release} {to}: {}",
                    text.lines().next().unwrap_or("done")
                ),
                revision_before: before,
                revision_after: None,
            },
            Err(e) => EffectResult::failed(t, action, Failure::Helm(e)),
        }
    }
}
