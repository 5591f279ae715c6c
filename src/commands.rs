//! The non-interactive subcommands. Writes go through the same runner as the TUI:
//! preview (server-side dry run), confirmation, write + audit, then follow.
use std::io::Write;
use std::time::Duration;

use crate::action::Target;
use crate::audit::AuditLog;
use crate::cli::{Cli, Command, Rollout, Set, exit};
use crate::config::Config;
use crate::k8s::client::{Connection, connect};
use crate::k8s::runner::Runner;

pub mod canary;
pub mod completions;
pub mod demo;
pub mod loadtest;
pub mod logs;
pub mod status;
pub mod write;

/// Everything a subcommand needs, resolved from flags and config.
pub struct Ctx {
    pub conn: Connection,
    pub runner: Runner,
    pub namespace: String,
    pub read_only: bool,
    pub config: Config,
}

pub fn audit_path(cli: &Cli, cfg: &Config) -> std::path::PathBuf {
    cli.audit_log.clone().unwrap_or_else(|| {
        if cfg.general.audit_log.is_empty() {
            crate::config::state_dir().join("audit.jsonl")
        } else {
            cfg.general.audit_log.clone().into()
        }
    })
}

/// Connects as the flags and config say. A failure to connect exits with
/// [`exit::FAILED`].
pub async fn context(cli: &Cli, config: Config) -> Result<Ctx, crate::k8s::client::ConnectError> {
    let conn = connect(cli.kubeconfig.as_deref(), cli.context.as_deref()).await?;
    let read_only = cli.read_only || config.read_only_for(&conn.context);
    let namespace = cli
        .namespace
        .first()
        .cloned()
        .unwrap_or_else(|| conn.namespace.clone());
    let container =
        (!config.general.container.is_empty()).then(|| config.general.container.clone());
    let runner = Runner {
        client: conn.client.clone(),
        context: conn.context.clone(),
        user: conn.user.clone(),
        audit: AuditLog::new(audit_path(cli, &config)),
        read_only,
        container,
        observe_timeout: Duration::from_secs(10),
        kubeconfig: cli.kubeconfig.clone(),
    };
    Ok(Ctx {
        conn,
        runner,
        namespace,
        read_only,
        config,
    })
}

/// Runs a subcommand; returns the process exit code.
pub async fn run(cli: &Cli, cmd: &Command, config: Config) -> i32 {
    let target_name = match cmd {
        Command::Rollout { cmd } => match cmd {
            Rollout::Status(a) => &a.target,
            Rollout::History(a) => &a.target,
            Rollout::Undo(a) => &a.write.target,
            Rollout::Restart(a) | Rollout::Pause(a) | Rollout::Resume(a) => &a.target,
            Rollout::Canary(c) => return canary::run(cli, c, config).await,
        },
        Command::Set { cmd: Set::Model(a) } => &a.write.target,
        Command::Set { cmd: Set::Image(a) } => &a.write.target,
        Command::Scale(a) => &a.write.target,
        Command::Logs(a) => &a.target,
        Command::Loadtest(a) => return loadtest::run(cli, a, config).await,
        Command::LoadtestWorker(a) => return loadtest::worker(a).await,
        Command::Demo(_) => return fail(exit::USAGE, "demo runs from main"),
        Command::Completions { shell } => return completions::print(*shell),
    };
    let name = match crate::cli::parse_target(target_name) {
        Ok(n) => n,
        Err(e) => return fail(exit::USAGE, &e),
    };
    let ctx = match context(cli, config).await {
        Ok(c) => c,
        Err(e) => return fail(exit::FAILED, e),
    };
    let target = Target {
        namespace: ctx.namespace.clone(),
        name,
    };
    match cmd {
        Command::Rollout {
            cmd: Rollout::Status(a),
        } => status::status(&ctx, &target, a).await,
        Command::Rollout {
            cmd: Rollout::History(a),
        } => status::history(&ctx, &target, a).await,
        Command::Rollout { cmd } => {
            let (args, action) = match cmd {
                Rollout::Undo(a) => (
                    &a.write,
                    crate::action::Action::Undo {
                        to_revision: a.to_revision,
                    },
                ),
                Rollout::Restart(a) => (a, crate::action::Action::Restart),
                Rollout::Pause(a) => (a, crate::action::Action::Pause),
                Rollout::Resume(a) => (a, crate::action::Action::Resume),
                Rollout::Status(_) | Rollout::History(_) | Rollout::Canary(_) => {
                    return exit::USAGE;
                }
            };
            write::write(&ctx, &target, action, args).await
        }
        Command::Set { cmd: Set::Model(a) } => {
            let action = crate::action::Action::SetModel {
                container: a.container.clone(),
                version: a.version.clone(),
                path: a.path.clone(),
            };
            write::write(&ctx, &target, action, &a.write).await
        }
        Command::Set { cmd: Set::Image(a) } => {
            let action = match a.image.split_once('=') {
                Some((c, i)) => crate::action::Action::SetImage {
                    container: Some(c.into()),
                    image: i.into(),
                },
                None => crate::action::Action::SetImage {
                    container: None,
                    image: a.image.clone(),
                },
            };
            write::write(&ctx, &target, action, &a.write).await
        }
        Command::Scale(a) => {
            write::write(
                &ctx,
                &target,
                crate::action::Action::Scale {
                    replicas: a.replicas,
                },
                &a.write,
            )
            .await
        }
        Command::Logs(a) => logs::run(&ctx, &target, a).await,
        Command::Loadtest(a) => loadtest::run(cli, a, ctx.config.clone()).await,
        Command::LoadtestWorker(a) => loadtest::worker(a).await,
        Command::Demo(_) => fail(exit::USAGE, "demo runs from main"),
        Command::Completions { shell } => completions::print(*shell),
    }
}

pub fn fail(code: i32, msg: impl std::fmt::Display) -> i32 {
    let mut e = std::io::stderr();
    let _ = writeln!(e, "error: {msg}");
    code
}
