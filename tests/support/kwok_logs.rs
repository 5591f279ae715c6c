//! Container logs on the dev cluster: kwok serves `pods/log` from the files a
//! `ClusterLogs` object names, in the CRI format (`TIME stdout F TEXT`), following them as
//! they grow; `previousLogsFile` is what `--previous` reads.
#![allow(dead_code)]
use std::io::Write;
use std::path::Path;
use std::process::Command;

use super::cluster::Cluster;

/// Appends CRI log lines, stamped now.
pub fn append(path: &Path, lines: &[&str]) {
    let now = jiff::Timestamp::now();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{now} stdout F {l}").unwrap();
    }
}

/// A ClusterLogs object for every pod of namespace `ns`; deleted with the guard (it is
/// cluster-scoped, so it would outlive the namespace).
pub struct ClusterLogs(&'static Cluster, String);

impl ClusterLogs {
    pub fn apply(k: &'static Cluster, ns: &str, current: &Path, previous: &Path) -> ClusterLogs {
        k.apply(&format!(
            "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata: {{name: {ns}}}\nspec:\n  selector: {{matchNamespaces: [{ns}]}}\n  logs:\n  - logsFile: {}\n    previousLogsFile: {}\n",
            current.display(),
            previous.display()
        ));
        ClusterLogs(k, ns.to_string())
    }
}

impl Drop for ClusterLogs {
    fn drop(&mut self) {
        let _ = Command::new(self.0.bin.join("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.0.kubeconfig)
            .args(["delete", "clusterlogs", &self.1, "--ignore-not-found"])
            .output();
    }
}
