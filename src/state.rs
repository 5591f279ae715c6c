//! The console's state: plain data, built by `update` from events, drawn by `ui`.
use std::collections::{BTreeMap, HashMap, VecDeque};

use jiff::Timestamp;

use crate::action::{Action, Target};
use crate::config::{Config, KeyMap};
use crate::diff::Change;
use crate::event::{Source, SourceStatus};
use crate::model::Key;

pub mod canaries;
pub mod diagnosis;
pub mod keymap;
pub mod latency;
pub mod loadrun;
pub mod logview;
pub mod rows;
pub mod store;
pub mod timeline;
pub mod update;

pub use store::Cluster;
pub use update::{Effect, update};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum View {
    Deployments,
    Detail(Key),
    Hpas,
    Pods,
    Events,
    /// Jobs: migrations, batch scoring, Helm hooks.
    Jobs,
    /// One time axis: latency per revision, load, replicas, markers. `None`: the
    /// explicit scrape URLs instead of a deployment.
    Monitor(timeline::Subject),
    /// The containers' logs of a deployment (all its pods, a revision's or a pod's).
    Logs(Key),
}

impl View {
    pub fn id(&self) -> ViewId {
        match self {
            View::Deployments => ViewId::Deployments,
            View::Detail(_) => ViewId::Detail,
            View::Hpas => ViewId::Hpas,
            View::Pods => ViewId::Pods,
            View::Events => ViewId::Events,
            View::Jobs => ViewId::Jobs,
            View::Monitor(_) => ViewId::Monitor,
            View::Logs(_) => ViewId::Logs,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewId {
    Deployments,
    Detail,
    Hpas,
    Pods,
    Events,
    Jobs,
    Monitor,
    Logs,
}

/// Which list of the detail view has the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Section {
    #[default]
    Revisions,
    Pods,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Scale,
    SetImage,
    SetModel,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Filter(String),
    Command(String),
    /// Typing a load test's flags.
    LoadPrompt(String),
    /// Typing how far back the logs view reads (`200`, `5m`, `all`).
    LogsRange(String),
    Prompt {
        kind: PromptKind,
        target: Target,
        input: String,
    },
    /// Waiting for the dry run.
    Preparing {
        target: Target,
        action: Action,
    },
    Confirm {
        target: Target,
        action: Action,
        changes: Vec<Change>,
        notes: Vec<String>,
    },
    /// Waiting for the write.
    Executing {
        target: Target,
        action: Action,
    },
    /// Typing a canary's flags (`tractor rollout canary`'s) for `target`.
    CanaryPrompt {
        target: Target,
        input: String,
    },
    /// Waiting for the canary's plan and dry run.
    CanaryPreparing {
        target: Target,
    },
    /// The canary's preview (or what a promote or abort does), waiting for `y`.
    CanaryConfirm {
        target: Target,
        write: CanaryWrite,
        lines: Vec<String>,
    },
}

/// What a confirmed canary dialog does.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryWrite {
    Start(Box<crate::canary::CanaryPlan>),
    /// Take up the run saved on the canary.
    Resume,
    /// A person's promote (`true`) or abort.
    ByHand {
        promote: bool,
    },
}

/// A canary this console drives (or drove): its progress in words, newest last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanaryRun {
    pub lines: VecDeque<String>,
    /// How it ended for this console; `None` while it is driven.
    pub ended: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub level: Level,
    pub text: String,
}

/// A write whose rollout is being followed on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Follow {
    pub target: Target,
    pub verb: &'static str,
    pub started: Timestamp,
    pub revision_before: Option<i64>,
}

/// A pod's scrapes: the window between the last two is what the views show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodScrape {
    pub prev: Option<(Timestamp, crate::scrape::PodMetrics)>,
    pub last: Option<(Timestamp, crate::scrape::PodMetrics)>,
    pub error: Option<crate::scrape::ScrapeError>,
}

/// The Prometheus source as the header shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromStatus {
    /// Its URL, or the service it is reached through.
    pub at: String,
    /// The server's scrape interval, when its configuration says.
    pub scrape_interval: Option<std::time::Duration>,
    /// The window of `increase` the console asks for.
    pub window: Option<std::time::Duration>,
    /// When the last round gave figures.
    pub last_ok: Option<Timestamp>,
    /// Pods with figures in the last round.
    pub pods: usize,
    /// Why the last round gave nothing for the pods on screen (unreachable, refused,
    /// no series, other labels...), in words that say what was expected.
    pub problem: Option<String>,
}

/// One sample of an autoscaler's replicas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaPoint {
    pub at: Timestamp,
    pub current: i32,
    pub desired: i32,
}

pub struct State {
    pub now: Timestamp,
    pub config: Config,
    pub keymap: KeyMap,
    pub context: String,
    pub user: String,
    /// Namespaces watched (`None`: all).
    pub namespaces: Option<Vec<String>>,
    pub read_only: bool,
    /// Started without a cluster (`loadtest` without `--deploy`).
    pub no_cluster: bool,
    pub cluster: Cluster,
    pub sources: BTreeMap<Source, SourceStatus>,
    pub view: View,
    pub back: Vec<View>,
    pub mode: Mode,
    pub filters: HashMap<ViewId, String>,
    pub selected: HashMap<ViewId, usize>,
    pub section: Section,
    pub detail_selected: HashMap<Section, usize>,
    pub flash: Option<Flash>,
    pub follow: Option<Follow>,
    pub hpa_history: HashMap<Key, VecDeque<ReplicaPoint>>,
    /// The last two scrapes of each pod (or explicit URL, with an empty namespace), and
    /// its last error.
    pub scrapes: HashMap<Key, PodScrape>,
    /// What the scrape rounds cover (all serving pods, or the deployment in view's).
    pub scrape_scope: Option<crate::scrape::scope::ScrapeScope>,
    /// The monitor screen's samples and markers, per deployment (and for the URL targets).
    pub timelines: HashMap<timeline::Subject, timeline::Timeline>,
    pub last_sample: Option<Timestamp>,
    /// The load test started from here, running or finished.
    pub load: Option<loadrun::LoadRun>,
    /// What the load prompt starts with: the last flags typed.
    pub load_args: String,
    /// The canaries this console drives or drove, by stable deployment.
    pub canary_runs: HashMap<Key, CanaryRun>,
    /// What the canary prompt starts with after the first: the last flags typed.
    pub canary_args: Option<String>,
    /// The Prometheus source, when it is the console's source of the servers' figures.
    pub prom: Option<PromStatus>,
    /// A Prometheus backfill waiting for the watches' first lists.
    pub prom_backfill: Option<crate::prom::events::History>,
    /// The logs view's lines and settings, while it is open.
    pub logs: Option<logview::LogsView>,
    /// What the crash-looping containers of the deployment in the detail view printed
    /// before they died (read once per crash, for its diagnosis).
    pub last_words: std::collections::BTreeMap<crate::logs::RunKey, crate::logs::LastWords>,
    /// The `helm` binary is on PATH (and the backend is Kubernetes): `u` on a Helm
    /// release's Deployment offers `helm rollback`.
    pub helm: bool,
    /// Rows visible in the last drawn list (for page up/down).
    pub page: usize,
    pub dirty: bool,
    pub quit: bool,
}

impl State {
    pub fn new(config: Config, context: String, user: String, now: Timestamp) -> State {
        let keymap = KeyMap::new(&config.keys);
        let read_only = config.read_only_for(&context);
        State {
            now,
            keymap,
            read_only,
            no_cluster: false,
            context,
            user,
            namespaces: None,
            cluster: Cluster::new(config.general.max_events),
            config,
            sources: BTreeMap::new(),
            view: View::Deployments,
            back: Vec::new(),
            mode: Mode::Normal,
            filters: HashMap::new(),
            selected: HashMap::new(),
            section: Section::Revisions,
            detail_selected: HashMap::new(),
            flash: None,
            follow: None,
            hpa_history: HashMap::new(),
            last_words: std::collections::BTreeMap::new(),
            prom: None,
            prom_backfill: None,
            scrapes: HashMap::new(),
            scrape_scope: None,
            timelines: HashMap::new(),
            last_sample: None,
            load: None,
            load_args: "--url http://127.0.0.1:8080/predict --rate 50 --duration 60s".into(),
            canary_runs: HashMap::new(),
            canary_args: None,
            logs: None,
            helm: false,
            page: 20,
            dirty: true,
            quit: false,
        }
    }

    pub fn filter(&self, v: ViewId) -> &str {
        self.filters.get(&v).map(String::as_str).unwrap_or("")
    }

    pub fn selected(&self, v: ViewId) -> usize {
        self.selected.get(&v).copied().unwrap_or(0)
    }

    pub fn flash(&mut self, level: Level, text: impl Into<String>) {
        self.flash = Some(Flash {
            level,
            text: text.into(),
        });
        self.dirty = true;
    }

    /// Sources in trouble, for the status line.
    pub fn troubled_sources(&self) -> Vec<(&Source, &SourceStatus)> {
        self.sources
            .iter()
            .filter(|(_, s)| {
                matches!(
                    s,
                    SourceStatus::Reconnecting(_) | SourceStatus::Forbidden(_)
                )
            })
            .collect()
    }
}
