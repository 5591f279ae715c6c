//! Command-line interface: the TUI by default, subcommands for scripts.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod canary;
pub mod examples;
pub mod loadtest;
pub mod values;
pub use loadtest::{DEFAULT_WORKER_IMAGE, LoadtestArgs, LoadtestWorkerArgs};
pub use values::{ValueError, parse_duration, parse_share, parse_target};

/// Exit codes of the subcommands.
pub mod exit {
    /// Done, or nothing to do (skipped).
    pub const OK: i32 = 0;
    /// The API refused or failed, or the rollout stalled (progress deadline exceeded).
    pub const FAILED: i32 = 1;
    /// Bad flags, arguments or configuration.
    pub const USAGE: i32 = 2;
    /// `--timeout` passed before the rollout finished.
    pub const TIMEOUT: i32 = 3;
    /// Refused before calling the API: read-only, or not confirmed.
    pub const REFUSED: i32 = 4;
    /// RBAC forbids the request.
    pub const FORBIDDEN: i32 = 5;
    /// A canary was rolled back: its windows failed, or it was never ready (the stable
    /// was not changed).
    pub const ROLLED_BACK: i32 = 6;
    /// A canary paused for a person: too many inconclusive windows or failed scrapes.
    pub const PAUSED: i32 = 7;
}

pub const EXIT_CODES: &str = "Exit codes: 0 done (or nothing to do), 1 failed or rollout stalled, 2 usage or config error, \
3 timed out, 4 refused (read-only, not confirmed, or another console drives the canary), 5 forbidden by RBAC, \
6 canary rolled back, 7 canary paused (inconclusive).";

#[derive(Debug, Parser)]
#[command(
    name = "tractor",
    version,
    about = "A terminal console for model servers on Kubernetes: live rollouts, per-revision latency, one-key rollback"
)]
pub struct Cli {
    /// Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: its current-context).
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace(s). The TUI watches these (comma-separated; default: all); subcommands use the first (default: the context's).
    #[arg(short = 'n', long, global = true, value_delimiter = ',')]
    pub namespace: Vec<String>,
    /// Config file overriding the built-in defaults (default: $XDG_CONFIG_HOME/tractor/config.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Refuse every write, in the TUI and in subcommands (`--readonly`, k9s's spelling, too).
    #[arg(long, global = true, alias = "readonly")]
    pub read_only: bool,
    /// Audit log of writes (JSON lines). Overrides the config.
    #[arg(long, global = true, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// The console's log file. Overrides the config.
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Also scrape this /metrics URL (repeatable): servers outside the cluster's view, shown
    /// by model version on the monitor screen (`:monitor` with no deployment selected).
    #[arg(long = "scrape", value_name = "URL")]
    pub scrape: Vec<String>,
    /// Take the model servers' figures from this Prometheus-compatible API (Prometheus,
    /// Thanos, Mimir, VictoriaMetrics) instead of scraping each pod: the `[metrics]` config
    /// with source = "prometheus" and this url (credentials and labels: see the config).
    #[arg(long, global = true, value_name = "URL")]
    pub prometheus: Option<String>,
    /// The list the console opens on (k9s's `--command`).
    #[arg(long, value_enum, value_name = "LIST")]
    pub view: Option<StartView>,
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The lists `--view` can open on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartView {
    Deployments,
    Pods,
    Hpas,
    Events,
    Jobs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage rollouts: status, history, undo, restart, pause, resume.
    Rollout {
        #[command(subcommand)]
        cmd: Rollout,
    },
    /// Change the model version or an image (starts a rollout).
    Set {
        #[command(subcommand)]
        cmd: Set,
    },
    /// Set a deployment's replica count.
    #[command(after_help = examples::SCALE)]
    Scale(ScaleArgs),
    /// Send load to model servers and measure latency: open loop at a rate (latency from each
    /// send's start, the generator's lag against its schedule reported apart), or closed loop
    /// with --concurrency. Bounded by --duration and --requests.
    #[command(after_help = examples::LOADTEST)]
    Loadtest(Box<LoadtestArgs>),
    /// One worker of `loadtest --in-cluster`, started by its Job.
    #[command(hide = true)]
    LoadtestWorker(Box<LoadtestWorkerArgs>),
    /// The product on one machine, no cluster: replicas of the demo model as local processes
    /// behind one front port, a load profile, an autoscaler, and the console on them.
    /// Print the containers' logs of a deployment's pods (all, one revision's or one pod's),
    /// each line prefixed by its pod; with -f, new pods join as they start.
    #[command(after_help = examples::LOGS)]
    Logs(LogsArgs),
    #[command(after_help = examples::DEMO)]
    Demo(DemoArgs),
    /// Print a shell completion script, e.g. `source <(tractor completions bash)`, or
    /// `tractor completions fish > ~/.config/fish/completions/tractor.fish`.
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// The name to show in help when this binary runs as a kubectl plugin (`kubectl-tractor`,
/// which `kubectl tractor` runs): `kubectl tractor`. `None` otherwise.
pub fn plugin_name(argv0: Option<std::ffi::OsString>) -> Option<&'static str> {
    let argv0 = argv0?;
    let file = std::path::Path::new(&argv0).file_name()?.to_str()?;
    file.starts_with("kubectl-tractor")
        .then_some("kubectl tractor")
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// deploy/NAME
    pub target: String,
    /// Only the pods of this revision (see `rollout history`).
    #[arg(long)]
    pub revision: Option<i64>,
    /// Only this pod.
    #[arg(long)]
    pub pod: Option<String>,
    /// Only this container (default: every container).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// The last terminated container's output: what a crash-looping one printed before it died.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Keep printing as lines come; pods that start join, pods that go leave.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only lines newer than this (e.g. 5m, 1h).
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Only the last N lines of each container (at the start).
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,
    /// Only lines matching this regular expression.
    #[arg(long, value_name = "RE")]
    pub grep: Option<String>,
    /// Print each line's time (from the API server).
    #[arg(long)]
    pub timestamps: bool,
    /// One JSON object per line: namespace, pod, container, revision, time, line.
    #[arg(short = 'o', long)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the local deployment's revisions and the replicas' logs live (default:
    /// $XDG_STATE_HOME/tractor/demo). History and rollback survive a restart.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The tractor-serve binary (default: the one beside this binary, then $PATH).
    #[arg(long, value_name = "FILE")]
    pub serve_bin: Option<PathBuf>,
    /// Directory with demo-classifier-v1.onnx and -v2.onnx.
    #[arg(long, value_name = "DIR", default_value = "assets/models")]
    pub models: PathBuf,
    /// The front port on 127.0.0.1 (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Start without the load profile (L starts one).
    #[arg(long)]
    pub no_load: bool,
    /// The load profile (see tractor loadtest --profile).
    #[arg(long, default_value = "spike:60,600@60+45")]
    pub profile: String,
    /// How long the load runs.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub duration: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Rollout {
    /// Wait for a rollout to finish, like kubectl (exit 0 complete, 1 stalled or paused, 3 timeout).
    #[command(after_help = examples::STATUS)]
    Status(StatusArgs),
    /// Revisions with change-cause, model version and image.
    #[command(after_help = examples::HISTORY)]
    History(HistoryArgs),
    /// Roll back to the previous revision, or to --to-revision.
    #[command(after_help = examples::UNDO)]
    Undo(UndoArgs),
    /// Restart every pod (a new revision with the restartedAt annotation).
    #[command(after_help = examples::RESTART)]
    Restart(WriteArgs),
    /// Pause the rollout.
    #[command(after_help = examples::PAUSE)]
    Pause(WriteArgs),
    /// Resume a paused rollout.
    #[command(after_help = examples::RESUME)]
    Resume(WriteArgs),
    /// A canary judged on the model's own latency and errors per revision, step by step:
    /// promoted when as good as the stable, rolled back when worse. `status`, `promote`,
    /// `abort`, `resume` act on a running one.
    #[command(after_help = examples::CANARY)]
    Canary(Box<canary::CanaryCli>),
}

#[derive(Debug, Subcommand)]
pub enum Set {
    /// Set the model version (the tractor.dev/model-version label and TRACTOR_SERVE_MODEL_VERSION).
    #[command(after_help = examples::SET_MODEL)]
    Model(SetModelArgs),
    /// Set a container's image: IMAGE, or CONTAINER=IMAGE.
    #[command(after_help = examples::SET_IMAGE)]
    Image(SetImageArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// deploy/NAME
    pub target: String,
    /// Give up after this long (e.g. 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the current status once instead of waiting.
    #[arg(long)]
    pub no_watch: bool,
    #[arg(short = 'o', long)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// deploy/NAME
    pub target: String,
    /// Show one revision's pod template.
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short = 'o', long)]
    pub output: Option<Output>,
}

#[derive(Debug, Args, Clone)]
pub struct WriteArgs {
    /// deploy/NAME
    pub target: String,
    /// Apply without asking (the preview is still printed).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Show the preview (server-side dry run) and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not wait for the rollout after the write.
    #[arg(long)]
    pub no_follow: bool,
    /// How long to follow the rollout (e.g. 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[arg(short = 'o', long)]
    pub output: Option<Output>,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// The revision to go back to (default: the previous one).
    #[arg(long)]
    pub to_revision: Option<i64>,
}

#[derive(Debug, Args)]
pub struct SetModelArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// The model version, e.g. v2.
    pub version: String,
    /// Also set the model file path (TRACTOR_SERVE_MODEL).
    #[arg(long)]
    pub path: Option<String>,
    /// The container to change (default: the only one, or the config's general.container).
    #[arg(long)]
    pub container: Option<String>,
}

#[derive(Debug, Args)]
pub struct SetImageArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    /// IMAGE or CONTAINER=IMAGE
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    #[arg(long)]
    pub replicas: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k9s_spelling_of_read_only_and_the_kubectl_plugin_name() {
        for flag in ["--read-only", "--readonly"] {
            let c = Cli::try_parse_from(["tractor", flag]).unwrap();
            assert!(c.read_only, "{flag}");
        }
        assert!(!Cli::try_parse_from(["tractor"]).unwrap().read_only);
        let name = |s: &str| plugin_name(Some(s.into()));
        assert_eq!(
            name("/usr/local/bin/kubectl-tractor"),
            Some("kubectl tractor")
        );
        assert_eq!(name("kubectl-tractor"), Some("kubectl tractor"));
        assert_eq!(name("/usr/bin/tractor"), None);
        assert_eq!(name("kubectl"), None);
        assert_eq!(plugin_name(None), None);
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "tractor",
            "rollout",
            "undo",
            "deploy/web",
            "--to-revision",
            "2",
            "-n",
            "prod",
            "-y",
            "-o",
            "json",
        ])
        .unwrap();
        match c.command {
            Some(Command::Rollout {
                cmd: Rollout::Undo(u),
            }) => {
                assert_eq!(u.to_revision, Some(2));
                assert!(u.write.yes);
                assert_eq!(u.write.output, Some(Output::Json));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.namespace, ["prod"]);
        assert!(
            Cli::try_parse_from(["tractor", "scale", "deploy/web"]).is_err(),
            "--replicas is required"
        );
    }
}
