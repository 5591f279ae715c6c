//! The Kubernetes Job of an in-cluster run: indexed, one pod per worker, the console's
//! image running `tractor loadtest-worker` with the run's flags. Bounded in time
//! (`activeDeadlineSeconds`), never retried (a replaced worker would miss the agreed
//! start: a failed one is reported instead, and the others go on), deleted by the console at the end and by
//! the Job's TTL if the console is gone.
use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecurityContext,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::worker::BODY_ENV;

/// The body travels base64 in one environment variable of the Job's pods, and Linux takes
/// no single environment string over 128 KiB.
pub const MAX_BODY: usize = 64 * 1024;
/// The port each worker serves its report on.
pub const PORT: u16 = 9464;
/// The label naming the run, on the Job and its pods.
pub const RUN_LABEL: &str = "tractor.dev/loadtest-run";
/// How long after its end a Job the console could not delete stays.
pub const TTL: Duration = Duration::from_secs(300);

/// What the Job is made of.
#[derive(Debug, Clone)]
pub struct JobInput {
    /// The run's id: the Job is `tractor-load-{id}`.
    pub id: String,
    pub image: String,
    pub workers: u32,
    /// The flags each worker runs with (its share is taken from `--workers`).
    pub words: Vec<String>,
    /// The `--body` file, base64.
    pub body_b64: Option<String>,
    /// How long a worker waits for its start before giving up.
    pub wait: Duration,
    /// How long it keeps answering after its run.
    pub linger: Duration,
    /// The run's own bound: its duration and request timeout.
    pub run: Duration,
}

/// The Job of run `id`.
pub fn job_name(id: &str) -> String {
    format!("tractor-load-{id}")
}

impl JobInput {
    pub fn name(&self) -> String {
        job_name(&self.id)
    }

    /// The Job's deadline: waiting, running and lingering, with a minute to spare.
    pub fn deadline(&self) -> Duration {
        self.wait + self.run + self.linger + Duration::from_secs(60)
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// The Job.
pub fn job(i: &JobInput) -> Job {
    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "tractor-loadtest".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "tractor".to_string(),
        ),
        (RUN_LABEL.to_string(), i.id.clone()),
    ]);
    let mut args: Vec<String> = vec![
        "loadtest-worker".into(),
        "--listen".into(),
        format!("0.0.0.0:{PORT}"),
        "--wait".into(),
        secs(i.wait),
        "--linger".into(),
        secs(i.linger),
    ];
    args.extend(i.words.iter().cloned());
    // the root is read-only: HOME (config lookups) points at a scratch volume
    let mut env = vec![EnvVar {
        name: "HOME".into(),
        value: Some("/tmp".into()),
        ..EnvVar::default()
    }];
    if let Some(b) = &i.body_b64 {
        env.push(EnvVar {
            name: BODY_ENV.into(),
            value: Some(b.clone()),
            ..EnvVar::default()
        });
    }
    let quantity = |s: &str| Quantity(s.to_string());
    let container = Container {
        name: "worker".into(),
        image: Some(i.image.clone()),
        args: Some(args),
        env: Some(env),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        }]),
        ports: Some(vec![ContainerPort {
            name: Some("report".into()),
            container_port: i32::from(PORT),
            ..ContainerPort::default()
        }]),
        // a worker that exits before it serves (a flag an older image does not know)
        // leaves its stderr as the pod's termination message, which the console shows
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        readiness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/healthz".into()),
                port: IntOrString::Int(i32::from(PORT)),
                ..HTTPGetAction::default()
            }),
            period_seconds: Some(2),
            ..Probe::default()
        }),
        // a generator needs its core: sharing one measures the neighbours
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), quantity("1")),
                ("memory".to_string(), quantity("128Mi")),
            ])),
            limits: Some(BTreeMap::from([("memory".to_string(), quantity("1Gi"))])),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(i.name()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".into()),
            completions: Some(i.workers as i32),
            parallelism: Some(i.workers as i32),
            // per index: one worker that fails (OOM, eviction) is that worker's loss, not
            // the Job's (a Job-wide backoffLimit 0 would terminate every other pod); none
            // is retried, since a replacement would miss the agreed start
            backoff_limit_per_index: Some(0),
            max_failed_indexes: Some(i.workers as i32),
            active_deadline_seconds: Some(i.deadline().as_secs() as i64),
            ttl_seconds_after_finished: Some(TTL.as_secs() as i32),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: "tmp".into(),
                        empty_dir: Some(EmptyDirVolumeSource {
                            size_limit: Some(quantity("64Mi")),
                            ..EmptyDirVolumeSource::default()
                        }),
                        ..Volume::default()
                    }]),
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    // one worker per node where the nodes allow it
                    topology_spread_constraints: Some(vec![TopologySpreadConstraint {
                        max_skew: 1,
                        topology_key: "kubernetes.io/hostname".into(),
                        when_unsatisfiable: "ScheduleAnyway".into(),
                        label_selector: Some(LabelSelector {
                            match_labels: Some(BTreeMap::from([(
                                RUN_LABEL.to_string(),
                                i.id.clone(),
                            )])),
                            ..LabelSelector::default()
                        }),
                        ..TopologySpreadConstraint::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> JobInput {
        JobInput {
            id: "k2x9".into(),
            image: "tractor:0.1.0".into(),
            workers: 4,
            words: vec![
                "--url".into(),
                "http://classifier:8080/".into(),
                "--workers".into(),
                "4".into(),
            ],
            body_b64: Some("e30=".into()),
            wait: Duration::from_secs(300),
            linger: Duration::from_secs(120),
            run: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_job_is_indexed_bounded_and_never_retried() {
        let j = job(&input());
        let spec = j.spec.unwrap();
        assert_eq!(j.metadata.name.as_deref(), Some("tractor-load-k2x9"));
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!((spec.completions, spec.parallelism), (Some(4), Some(4)));
        assert_eq!(spec.backoff_limit, None);
        assert_eq!(
            (spec.backoff_limit_per_index, spec.max_failed_indexes),
            (Some(0), Some(4))
        );
        assert_eq!(spec.active_deadline_seconds, Some(300 + 60 + 120 + 60));
        assert_eq!(spec.ttl_seconds_after_finished, Some(300));
        let pod = spec.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let c = &pod.containers[0];
        let args = c.args.clone().unwrap();
        assert_eq!(&args[..3], ["loadtest-worker", "--listen", "0.0.0.0:9464"]);
        assert!(args.ends_with(&input().words), "{args:?}");
        let env = c.env.clone().unwrap();
        let body = env.iter().find(|e| e.name == BODY_ENV).unwrap();
        assert_eq!(body.value.as_deref(), Some("e30="));
        // the read-only root gets a writable /tmp, and HOME points there
        let home = env.iter().find(|e| e.name == "HOME").unwrap();
        assert_eq!(home.value.as_deref(), Some("/tmp"));
        assert_eq!(c.volume_mounts.clone().unwrap()[0].mount_path, "/tmp");
        let sc = c.security_context.clone().unwrap();
        assert_eq!(
            (sc.run_as_non_root, sc.read_only_root_filesystem),
            (Some(true), Some(true))
        );
        let labels = spec.template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels.get(RUN_LABEL).map(String::as_str), Some("k2x9"));
    }

    #[test]
    fn without_a_body_there_is_no_env() {
        let mut i = input();
        i.body_b64 = None;
        let pod = job(&i).spec.unwrap().template.spec.unwrap();
        let env = pod.containers[0].env.clone().unwrap();
        assert!(env.iter().all(|e| e.name != BODY_ENV), "{env:?}");
    }
}
