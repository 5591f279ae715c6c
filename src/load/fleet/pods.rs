//! The worker pods as the console sees them before the start: which index each holds,
//! whether it runs with an IP, and what holds it back (the waiting reason a person would
//! read in `kubectl get pods`). Pure: the coordinator lists the pods and asks.
use k8s_openapi::api::core::v1::Pod;

/// The annotation the Job controller puts the completion index in.
pub const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// Waiting reasons that will not pass by themselves: the run gives up at once.
const HOPELESS: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CrashLoopBackOff",
];

/// One worker pod.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerPod {
    pub index: u32,
    pub name: String,
    pub ip: Option<String>,
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    pub phase: String,
    /// Why it does not run yet, or why it ended (reason: message).
    pub why: Option<String>,
}

impl WorkerPod {
    /// The pod, when it is one of the Job's (it carries its index).
    pub fn of(p: &Pod) -> Option<WorkerPod> {
        let index = p
            .metadata
            .annotations
            .as_ref()?
            .get(INDEX_ANNOTATION)?
            .parse()
            .ok()?;
        let status = p.status.as_ref();
        let phase = status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into());
        let container = status
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.first())
            .and_then(|c| c.state.as_ref());
        let said = |reason: Option<&String>, message: Option<&String>| match (reason, message) {
            (Some(r), Some(m)) => Some(format!("{r}: {m}")),
            (Some(r), None) => Some(r.clone()),
            (None, Some(m)) => Some(m.clone()),
            (None, None) => None,
        };
        let why = container
            .and_then(|c| {
                c.waiting
                    .as_ref()
                    .and_then(|w| said(w.reason.as_ref(), w.message.as_ref()))
                    .or_else(|| {
                        c.terminated.as_ref().map(|t| {
                            said(t.reason.as_ref(), t.message.as_ref())
                                .unwrap_or_else(|| format!("exited {}", t.exit_code))
                        })
                    })
            })
            .or_else(|| said(status?.reason.as_ref(), status?.message.as_ref()))
            .or_else(|| {
                // unschedulable and the like: the PodScheduled condition says why
                status?
                    .conditions
                    .as_ref()?
                    .iter()
                    .find(|c| c.status == "False" && c.type_ == "PodScheduled")
                    .and_then(|c| said(c.reason.as_ref(), c.message.as_ref()))
            });
        Some(WorkerPod {
            index,
            name: p.metadata.name.clone().unwrap_or_default(),
            ip: status.and_then(|s| s.pod_ip.clone()),
            phase,
            why,
        })
    }

    /// Running with an IP: its report can be asked for. A worker exits 0 only after its
    /// run, so `Succeeded` before the start is not one that ended: it is asked too, and its
    /// answer decides (kwok marks a Job's pods Succeeded as soon as they run).
    pub fn up(&self) -> bool {
        matches!(self.phase.as_str(), "Running" | "Succeeded") && self.ip.is_some()
    }

    /// Why it will never run its share, if it will not.
    pub fn hopeless(&self) -> Option<String> {
        match self.phase.as_str() {
            "Failed" => Some(format!(
                "ended ({}) before the start{}",
                self.phase,
                self.why
                    .as_ref()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default()
            )),
            _ => self
                .why
                .as_ref()
                .filter(|w| HOPELESS.iter().any(|h| w.starts_with(h)))
                .cloned(),
        }
    }

    /// `pending: ContainerCreating`, `running`: for the worker table while it starts.
    pub fn state(&self) -> String {
        match (self.up(), &self.why) {
            (true, _) => "starting".into(),
            (false, Some(w)) => format!("{}: {w}", self.phase.to_lowercase()),
            (false, None) => self.phase.to_lowercase(),
        }
    }
}

/// The newest pod of each index among `pods` (a Job with no retries has one each).
pub fn by_index(pods: &[Pod]) -> Vec<WorkerPod> {
    let mut out: Vec<WorkerPod> = Vec::new();
    for p in pods {
        let Some(w) = WorkerPod::of(p) else { continue };
        match out.iter_mut().find(|o| o.index == w.index) {
            Some(o) if !o.up() => *o = w,
            Some(_) => {}
            None => out.push(w),
        }
    }
    out.sort_by_key(|w| w.index);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(index: u32, phase: &str, ip: Option<&str>, waiting: Option<&str>) -> Pod {
        let waiting = waiting.map(|w| serde_json::json!({"waiting": {"reason": w, "message": "back-off pulling image \"tractor:0.1.0\""}}));
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": format!("tractor-load-x-{index}-abcde"),
                "annotations": {INDEX_ANNOTATION: index.to_string()},
            },
            "status": {
                "phase": phase,
                "podIP": ip,
                "containerStatuses": waiting.map(|w| vec![serde_json::json!({
                    "name": "worker", "image": "tractor:0.1.0", "imageID": "", "ready": false,
                    "restartCount": 0, "state": w,
                })]),
            },
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_that_cannot_pull_its_image_is_hopeless_and_says_why() {
        let w = WorkerPod::of(&pod(2, "Pending", None, Some("ImagePullBackOff"))).unwrap();
        assert_eq!(w.index, 2);
        assert!(!w.up());
        let why = w.hopeless().unwrap();
        assert!(
            why.starts_with("ImagePullBackOff: back-off pulling image"),
            "{why}"
        );
        assert!(
            w.state().starts_with("pending: ImagePullBackOff"),
            "{}",
            w.state()
        );
        // still creating: wait
        let creating = WorkerPod::of(&pod(0, "Pending", None, Some("ContainerCreating"))).unwrap();
        assert_eq!(creating.hopeless(), None);
        // ended before the start
        let ended = WorkerPod::of(&pod(1, "Failed", Some("127.1.0.9"), None)).unwrap();
        assert!(ended.hopeless().unwrap().starts_with("ended (Failed)"));
        assert!(!ended.up());
        // Succeeded: asked, its answer decides
        let done = WorkerPod::of(&pod(1, "Succeeded", Some("127.1.0.9"), None)).unwrap();
        assert_eq!((done.up(), done.hopeless()), (true, None));
    }

    #[test]
    fn pods_are_taken_by_index_and_a_pod_without_one_is_not_a_worker() {
        let mut stray = pod(0, "Running", Some("127.1.0.1"), None);
        stray.metadata.annotations = None;
        let pods = vec![
            pod(1, "Running", Some("127.1.0.3"), None),
            stray,
            pod(0, "Running", Some("127.1.0.2"), None),
        ];
        let ws = by_index(&pods);
        assert_eq!(ws.iter().map(|w| w.index).collect::<Vec<_>>(), [0, 1]);
        assert!(ws.iter().all(WorkerPod::up));
        assert_eq!(ws[0].ip.as_deref(), Some("127.1.0.2"));
    }
}
