use clap::{CommandFactory, FromArgMatches};
use tractor::cli::{Cli, EXIT_CODES, StartView, exit};
use tractor::config::Config;
use tractor::state::View;

fn main() {
    tractor::heap::limit_arenas();
    let code = match real_main() {
        Ok(code) => code,
        Err(e) => {
            tractor::tui::restore();
            eprintln!("error: {e:?}");
            exit::FAILED
        }
    };
    std::process::exit(code);
}

/// The list `--view` names, as the console's state has it.
fn start_view(v: StartView) -> View {
    match v {
        StartView::Deployments => View::Deployments,
        StartView::Pods => View::Pods,
        StartView::Hpas => View::Hpas,
        StartView::Events => View::Events,
        StartView::Jobs => View::Jobs,
    }
}

/// The screen needs a terminal on both ends; otherwise `loadtest` runs headless.
fn on_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

fn real_main() -> color_eyre::Result<i32> {
    color_eyre::install()?;
    tractor::tui::install_panic_hook();
    let defaults = Config::embedded()?;
    let log_default = tractor::logging::path(None, &defaults);
    let help = format!(
        "{}\n\nLogs: {} (or general.log_file, or --log-file; level from TRACTOR_LOG).\nConfig: {} (or --config).\n{EXIT_CODES}",
        tractor::cli::examples::ROOT,
        log_default.display(),
        tractor::config::default_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "-".into()),
    );
    let mut command = Cli::command().after_help(help);
    if let Some(name) = tractor::cli::plugin_name(std::env::args_os().next()) {
        // installed as kubectl-tractor: `kubectl tractor ...`, and its help says so
        command = command.bin_name(name);
    }
    let matches = command.get_matches();
    let cli = Cli::from_arg_matches(&matches)
        .map_err(|e| e.exit())
        .unwrap_or_else(|()| unreachable!());
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::USAGE);
        }
    };
    let log = tractor::logging::path(cli.log_file.as_deref(), &config);
    if let Err(e) = tractor::logging::init(&log) {
        eprintln!("warning: cannot log to {}: {e}", log.display());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match &cli.command {
            Some(tractor::cli::Command::Loadtest(a)) if !a.no_tui && on_terminal() => {
                tractor::commands::loadtest::console(&cli, a, config).await
            }
            Some(tractor::cli::Command::Demo(a)) => {
                let audit =
                    tractor::audit::AuditLog::new(tractor::commands::audit_path(&cli, &config));
                tractor::commands::demo::run(a, audit, cli.read_only, config).await
            }
            Some(cmd) => Ok(tractor::commands::run(&cli, cmd, config).await),
            None => {
                if let Err(e) = tractor::scrape::urls::check(&cli.scrape, &cli.tls) {
                    return Ok(tractor::commands::fail(exit::USAGE, e));
                }
                let ctx = match tractor::commands::context(&cli, config.clone()).await {
                    Ok(c) => c,
                    Err(e) => return Ok(tractor::commands::fail(exit::FAILED, e)),
                };
                let ns = (!cli.namespace.is_empty()).then(|| cli.namespace.clone());
                let prometheus = match tractor::prom::setup::from_cli(
                    &config,
                    cli.prometheus.as_deref(),
                    &ctx.conn.client,
                    &cli.tls,
                ) {
                    Ok(p) => p,
                    Err(e) => return Ok(tractor::commands::fail(exit::USAGE, e)),
                };
                let start = tractor::app::Start {
                    view: cli.view.map(start_view),
                    scrape_urls: cli.scrape.clone(),
                    scrape_tls: cli.tls.clone(),
                    prometheus,
                    ..Default::default()
                };
                tractor::app::run(
                    tractor::app::Cluster::Kube(ctx.conn, ctx.runner),
                    config,
                    ns,
                    start,
                )
                .await?;
                Ok(exit::OK)
            }
        }
    })
}
