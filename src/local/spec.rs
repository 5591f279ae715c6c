//! What a local deployment is, and its state directory: the spec (replicas, the revision
//! history, the current revision, the autoscaler) as one JSON file written crash-safely
//! (a temporary file, fsync, rename over the old one, fsync of the directory), so that
//! history and rollback survive a console restart or a crash mid-write.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub number: i64,
    pub model: PathBuf,
    pub version: String,
    /// Extra flags for tractor-serve.
    #[serde(default)]
    pub args: Vec<String>,
    pub change_cause: String,
    /// RFC 3339.
    pub created: String,
    /// Set by a restart: a new template that runs the same model (like kubectl's annotation).
    #[serde(default)]
    pub restarted_at: Option<String>,
}

impl Revision {
    /// Same pod template (what a new revision would run).
    pub fn same_template(&self, o: &Revision) -> bool {
        self.model == o.model
            && self.version == o.version
            && self.args == o.args
            && self.restarted_at == o.restarted_at
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Autoscale {
    pub min: i32,
    pub max: i32,
    /// Target of the average in-flight requests per replica.
    pub target_inflight: f64,
}

/// A canary beside the deployment (its replicas carry the canary's own template and take
/// their share of the front port's traffic), saved with the spec so that a console that
/// dies mid-canary loses nothing. Its run (plan, counters, lease) is kept as the Kubernetes
/// canary keeps it: annotations, written only at the `version` read before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanarySpec {
    /// What the canary replicas run (`number` is unused: a canary is no revision yet).
    pub template: Revision,
    pub replicas: i32,
    /// The revision the deployment ran when the canary started: promotion is refused when
    /// it changed since (promoting would undo that change).
    pub stable_revision: i64,
    pub annotations: BTreeMap<String, String>,
    /// Goes up with every write to the canary (as a `resourceVersion` does).
    pub version: u64,
    /// RFC 3339.
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    /// The model name the servers answer to (`/v2/models/NAME/infer`).
    pub model_name: String,
    pub replicas: i32,
    pub revisions: Vec<Revision>,
    pub current: i64,
    #[serde(default)]
    pub paused: bool,
    pub max_surge: i32,
    pub max_unavailable: i32,
    #[serde(default)]
    pub autoscale: Option<Autoscale>,
    /// `set model VERSION` without a path: this with `{version}` replaced, if it exists.
    #[serde(default)]
    pub model_pattern: Option<String>,
    /// The canary running beside it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanarySpec>,
}

impl Spec {
    pub fn revision(&self, n: i64) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.number == n)
    }

    pub fn current_revision(&self) -> Option<&Revision> {
        self.revision(self.current)
    }

    fn next_number(&self) -> i64 {
        self.revisions.iter().map(|r| r.number).max().unwrap_or(0) + 1
    }

    /// Makes `template` current, as a Deployment controller does: a template equal to an
    /// older revision's takes that revision over under the next number; otherwise a new
    /// revision. Returns the new current number (unchanged if it already runs).
    pub fn roll_to(&mut self, template: Revision, now: &str) -> i64 {
        if let Some(cur) = self.current_revision()
            && cur.same_template(&template)
        {
            return self.current;
        }
        let number = self.next_number();
        self.revisions.retain(|r| !r.same_template(&template));
        self.revisions.push(Revision {
            number,
            created: now.to_string(),
            ..template
        });
        self.current = number;
        // keep a bounded history, like revisionHistoryLimit (10 old ones)
        while self.revisions.len() > 11 {
            self.revisions.remove(0);
        }
        number
    }

    /// Checks what a hand-edited or damaged file could hold.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.name.is_empty() {
            return Err(SpecError::EmptyName);
        }
        if self.replicas < 0 {
            return Err(SpecError::NegativeReplicas(self.replicas));
        }
        if self.current_revision().is_none() {
            return Err(SpecError::NoCurrentRevision(self.current));
        }
        if self.max_surge < 0
            || self.max_unavailable < 0
            || self.max_surge + self.max_unavailable == 0
        {
            return Err(SpecError::Surge);
        }
        if let Some(a) = &self.autoscale
            && (a.min < 1
                || a.max < a.min
                || a.target_inflight.is_nan()
                || a.target_inflight <= 0.0)
        {
            return Err(SpecError::Autoscale);
        }
        if let Some(c) = &self.canary
            && c.replicas < 0
        {
            return Err(SpecError::NegativeCanaryReplicas(c.replicas));
        }
        Ok(())
    }
}

/// What a spec holds that it must not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("name is empty")]
    EmptyName,
    #[error("replicas is {0} (must be ≥ 0)")]
    NegativeReplicas(i32),
    #[error("current revision {0} is not in revisions")]
    NoCurrentRevision(i64),
    #[error("max_surge and max_unavailable must be ≥ 0 and not both 0")]
    Surge,
    #[error("autoscale needs 1 ≤ min ≤ max and target_inflight > 0")]
    Autoscale,
    #[error("canary.replicas is {0} (must be ≥ 0)")]
    NegativeCanaryReplicas(i32),
}

/// Why the state directory's spec could not be read or written. Clone (a failed write
/// travels in an effect's result); equal when it says the same.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        source: Arc<serde_json::Error>,
    },
    #[error("{}: {source}", path.display())]
    Invalid { path: PathBuf, source: SpecError },
    #[error("{what} {}: {source}", path.display())]
    Write {
        what: &'static str,
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    #[error("cannot encode the spec: {0}")]
    Encode(Arc<serde_json::Error>),
}

impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for StoreError {}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    pub fn spec_path(&self) -> PathBuf {
        self.dir.join("deployment.json")
    }

    /// The saved spec, `None` when there is none yet. A damaged file is an error naming it.
    pub fn load(&self) -> Result<Option<Spec>, StoreError> {
        let path = self.spec_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Read {
                    path,
                    source: Arc::new(e),
                });
            }
        };
        let spec: Spec = match serde_json::from_str(&text) {
            Ok(s) => s,
            Err(e) => {
                return Err(StoreError::Json {
                    path,
                    source: Arc::new(e),
                });
            }
        };
        if let Err(source) = spec.validate() {
            return Err(StoreError::Invalid { path, source });
        }
        Ok(Some(spec))
    }

    /// Writes the spec so that a crash at any point leaves either the old or the new file.
    pub fn save(&self, spec: &Spec) -> Result<(), StoreError> {
        fn err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
            let path = path.to_path_buf();
            move |e| StoreError::Write {
                what,
                path,
                source: Arc::new(e),
            }
        }
        std::fs::create_dir_all(&self.dir).map_err(err("cannot create", &self.dir))?;
        let path = self.spec_path();
        let tmp = self.dir.join(".deployment.json.tmp");
        let text =
            serde_json::to_string_pretty(spec).map_err(|e| StoreError::Encode(Arc::new(e)))?;
        let mut f = std::fs::File::create(&tmp).map_err(err("cannot write", &tmp))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .and_then(|_| f.sync_all())
            .map_err(err("cannot write", &tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(err("cannot replace", &path))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Where replica `name`'s output goes.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(v: &str) -> Revision {
        Revision {
            number: 0,
            model: format!("/m/{v}.onnx").into(),
            version: v.into(),
            args: vec![],
            change_cause: format!("set model {v}"),
            created: String::new(),
            restarted_at: None,
        }
    }

    fn spec() -> Spec {
        let mut r = rev("v1");
        r.number = 1;
        Spec {
            name: "classifier".into(),
            model_name: "demo".into(),
            replicas: 2,
            revisions: vec![r],
            current: 1,
            paused: false,
            max_surge: 1,
            max_unavailable: 0,
            autoscale: None,
            model_pattern: None,
            canary: None,
        }
    }

    #[test]
    fn revisions_number_like_a_deployment() {
        let mut s = spec();
        assert_eq!(s.roll_to(rev("v2"), "t2"), 2);
        assert_eq!(s.roll_to(rev("v2"), "t3"), 2, "same template: nothing new");
        // back to v1: revision 1 is taken over as revision 3
        assert_eq!(s.roll_to(rev("v1"), "t4"), 3);
        let numbers: Vec<(i64, &str)> = s
            .revisions
            .iter()
            .map(|r| (r.number, r.version.as_str()))
            .collect();
        assert_eq!(numbers, [(2, "v2"), (3, "v1")]);
        assert_eq!(s.current_revision().unwrap().created, "t4");
    }

    #[test]
    fn saves_and_loads_and_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("state"));
        assert_eq!(store.load().unwrap(), None);
        let s = spec();
        store.save(&s).unwrap();
        assert_eq!(store.load().unwrap(), Some(s.clone()));
        // no temporary file is left behind
        let names: Vec<String> = std::fs::read_dir(&store.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["deployment.json"]);
        // a torn write of the temporary file does not touch the real one
        std::fs::write(store.dir.join(".deployment.json.tmp"), "{\"name\": \"cla").unwrap();
        assert_eq!(store.load().unwrap(), Some(s.clone()));
        std::fs::write(store.spec_path(), "{\"name\": \"cla").unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(e.contains("deployment.json"), "{e}");
        let mut bad = s;
        bad.current = 9;
        std::fs::write(store.spec_path(), serde_json::to_string(&bad).unwrap()).unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(e.contains("current revision 9"), "{e}");
    }
}
