//! A real `tractor loadtest-worker` for a pod of an in-cluster load test's Job.
use std::process::{Child, Command, Stdio};

use k8s_openapi::api::core::v1::Pod;

/// A real `tractor loadtest-worker` for a pod of a load test's Job: the container's args
/// with `--listen` on the pod's IP, its env, and the index the Job controller gave the pod.
pub(super) fn start_worker(p: &Pod) -> Option<Child> {
    let labels = p.metadata.labels.as_ref()?;
    labels.get(tractor::load::fleet::job::RUN_LABEL)?;
    let ip = p.status.as_ref()?.pod_ip.clone()?;
    super::super::http::assert_allowed(&ip);
    let c = p.spec.as_ref()?.containers.first()?;
    let index = p
        .metadata
        .annotations
        .as_ref()?
        .get(tractor::load::fleet::pods::INDEX_ANNOTATION)?
        .clone();
    let mut args = c.args.clone()?;
    if let Some(w) = args.windows(2).position(|w| w[0] == "--listen") {
        args[w + 1] = format!("{ip}:{}", tractor::load::fleet::job::PORT);
    }
    let name = p.metadata.name.clone()?;
    let dir = std::env::temp_dir().join("tractor-e2e-workers");
    std::fs::create_dir_all(&dir).ok()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tractor"));
    cmd.arg("--log-file")
        .arg(dir.join(format!("{name}.log")))
        .args(&args)
        .env("JOB_COMPLETION_INDEX", &index)
        .env_remove(tractor::load::fleet::worker::BODY_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("{name}.stderr"))).ok()?);
    for e in c.env.iter().flatten() {
        // HOME stays the test's: the pod's /tmp volume is not here
        if e.name != "HOME"
            && let Some(v) = &e.value
        {
            cmd.env(&e.name, v);
        }
    }
    super::spawner::die_with_starter(&mut cmd);
    super::spawner::spawn(cmd).ok()
}
