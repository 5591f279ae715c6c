//! Everything that reaches the UI loop, through one channel.
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};

use crate::action::{Action, Target};
use crate::diff::Change;
use crate::failure::Failure;
use crate::model::Key;

#[derive(Debug)]
pub enum AppEvent {
    Input(crossterm::event::Event),
    Tick(Timestamp),
    Kube(ClusterDelta),
    Effect(EffectResult),
    /// One pod's metrics, scraped (or why not).
    Scrape(ScrapeResult),
    /// What the scrape rounds cover now: all serving pods, or the deployment in view's.
    ScrapeScope(crate::scrape::scope::ScrapeScope),
    /// The load test's progress and end.
    Load(LoadEvent),
    /// A canary this console prepares or drives.
    Canary(CanaryEvent),
    /// The Prometheus source: a round's windows per pod, the backfill, or why not.
    Prom(crate::prom::PromEvent),
    /// A logs view's reader: a line, a stream opened or closed, a failure.
    Logs(crate::logs::LogEvent),
    /// The last lines a crashed container printed, for the diagnosis (or why not).
    LastWords {
        run: crate::logs::RunKey,
        words: crate::logs::LastWords,
    },
    /// SIGTERM, SIGHUP or SIGINT: leave, restoring the terminal.
    Shutdown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoadEvent {
    Progress(Box<crate::load::engine::Progress>),
    /// The one-line summary, or why the run could not start.
    Finished(crate::load::ended::LoadEnded),
}

/// A canary's preview, progress and end, for the stable `target`.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryEvent {
    /// The plan was built and the canary accepted by a dry run: the preview's lines.
    Prepared {
        target: Target,
        plan: Box<crate::canary::CanaryPlan>,
        lines: Vec<String>,
    },
    /// The plan or the dry run was refused, or the write could not start: why.
    Refused { target: Target, message: String },
    Progress {
        target: Target,
        progress: crate::canary::drive::Progress,
    },
    /// This console stopped driving: the outcome's words, whether it promoted, failed, or
    /// lost the run to someone else (a person's abort or promote, another console).
    Ended {
        target: Target,
        text: String,
        promoted: bool,
        failed: bool,
        lost: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Kind {
    Deployment,
    ReplicaSet,
    Pod,
    Hpa,
    Event,
    Job,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::Pod,
        Kind::Hpa,
        Kind::Event,
        Kind::Job,
    ];

    /// The resource as RBAC names it.
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments.apps",
            Kind::ReplicaSet => "replicasets.apps",
            Kind::Pod => "pods",
            Kind::Hpa => "horizontalpodautoscalers.autoscaling",
            Kind::Event => "events",
            Kind::Job => "jobs.batch",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Object {
    Deployment(Box<Deployment>),
    ReplicaSet(Box<ReplicaSet>),
    Pod(Box<Pod>),
    Hpa(Box<HorizontalPodAutoscaler>),
    Event(Box<KubeEvent>),
    Job(Box<k8s_openapi::api::batch::v1::Job>),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Deployment(_) => Kind::Deployment,
            Object::ReplicaSet(_) => Kind::ReplicaSet,
            Object::Pod(_) => Kind::Pod,
            Object::Hpa(_) => Kind::Hpa,
            Object::Event(_) => Kind::Event,
            Object::Job(_) => Kind::Job,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScrapeResult {
    pub pod: Key,
    pub at: Timestamp,
    pub result: Result<crate::scrape::PodMetrics, crate::scrape::ScrapeError>,
}

/// One watch stream: a kind in a namespace (or in all of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    pub kind: Kind,
    pub namespace: Option<String>,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} in namespace {ns}", self.kind.resource()),
            None => write!(f, "{} in all namespaces", self.kind.resource()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    /// Listing; objects arrive at the end of the list.
    Syncing,
    Live,
    /// The stream failed and is retrying with backoff.
    Reconnecting(String),
    /// RBAC refuses the list; retried slowly.
    Forbidden(String),
}

#[derive(Debug, Clone)]
pub enum ClusterDelta {
    Applied(Object),
    Deleted(Kind, Key),
    /// A complete list after (re)connecting: replaces what the source had.
    Resynced {
        source: Source,
        objects: Vec<Object>,
    },
    Status {
        source: Source,
        status: SourceStatus,
    },
}

/// The outcome of an effect, reported back to the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum EffectResult {
    /// Dry run accepted; this is what the write will change.
    Prepared {
        target: Target,
        action: Action,
        changes: Vec<Change>,
        notes: Vec<String>,
    },
    Skipped {
        target: Target,
        action: Action,
        message: String,
    },
    Done {
        target: Target,
        action: Action,
        message: String,
        revision_before: Option<i64>,
        revision_after: Option<i64>,
    },
    /// Refused or failed; the failure gives the message and the exit code.
    Failed {
        target: Target,
        action: Action,
        failure: Failure,
    },
}

impl EffectResult {
    pub fn failed(target: &Target, action: Action, failure: Failure) -> EffectResult {
        EffectResult::Failed {
            target: target.clone(),
            action,
            failure,
        }
    }

    /// Nothing to change; `why` gives the message.
    pub fn skipped(target: &Target, action: Action, why: &impl std::fmt::Display) -> EffectResult {
        EffectResult::Skipped {
            target: target.clone(),
            action,
            message: why.to_string(),
        }
    }
}
