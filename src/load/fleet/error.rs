//! Why an in-cluster run could not be carried out, in words that say what to do; the API's
//! refusals mapped to them.
use std::time::Duration;

use super::job::MAX_BODY;
use crate::load::plan::PlanError;

/// Why an in-cluster run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(
        "--body is {0} bytes: an in-cluster run sends it in the Job's spec, which holds {MAX_BODY} at most"
    )]
    BodyTooBig(usize),
    #[error(
        "{verb} in namespace {namespace} is forbidden ({message}): the console's user needs the role tractor-operator there (serving/deploy/k8s/rbac/operator.yaml: create and delete on jobs, list on pods, get and create on pods/proxy)"
    )]
    Forbidden {
        verb: &'static str,
        namespace: String,
        message: String,
    },
    #[error("{verb}: {source}")]
    Api { verb: String, source: kube::Error },
    #[error(
        "worker pod {pod} cannot run: {why} (the image is --worker-image {image}: see the Dockerfile at the repository's root)"
    )]
    PodFailed {
        pod: String,
        why: String,
        image: String,
    },
    #[error("{up} of {workers} worker pods running after {}s: {detail} (the Job is deleted; its events stay a while: kubectl get events -n {namespace} --field-selector involvedObject.name={job})", waited.as_secs())]
    NotStarted {
        up: usize,
        workers: u32,
        waited: Duration,
        detail: String,
        job: String,
        namespace: String,
    },
    #[error("worker pod {pod} does not answer through the pod proxy: {why}")]
    Unreachable { pod: String, why: String },
    #[error("no worker took the start: {0}")]
    NoneStarted(String),
    #[error("stopped before the workers started")]
    Stopped,
    #[error(
        "--in-cluster needs a cluster, and this console has none (local mode, or only --scrape URLs)"
    )]
    NoCluster,
    #[error(
        "read-only: an in-cluster load test creates a Job, which a read-only console does not (drop --read-only, or use a context not in read_only_contexts)"
    )]
    ReadOnly,
}

pub(super) fn api_error(verb: &str, namespace: &str, e: kube::Error) -> FleetError {
    match e {
        kube::Error::Api(s) if s.code == 403 => FleetError::Forbidden {
            verb: match verb {
                v if v.starts_with("create job") => "creating a Job",
                v if v.starts_with("list pods") => "listing pods",
                v if v.starts_with("delete job") => "deleting a Job",
                _ => "the pod proxy",
            },
            namespace: namespace.to_string(),
            message: s.message.clone(),
        },
        source => FleetError::Api {
            verb: verb.to_string(),
            source,
        },
    }
}
