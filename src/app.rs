//! The TUI's loop: sources send owned events into one channel; the loop drains
//! it through `update`, hands effects to the runner, and draws when something changed.
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::backend::Backend;
use crate::config::Config;
use crate::event::{AppEvent, ClusterDelta, EffectResult};
use crate::k8s::client::Connection;
use crate::k8s::runner::Runner;
use crate::state::{Effect, State, View, update};

/// Changes that are not a person's keys are drawn at most this often (20 frames a second).
const FRAME_GAP: Duration = Duration::from_millis(50);

/// What woke the UI loop (one at a time, on the stack: its size costs nothing).
#[allow(clippy::large_enum_variant)]
enum Next {
    Event(Option<AppEvent>),
    /// A change waiting for its frame.
    Draw,
}

/// A batch of events that brought at least this many listed objects is followed by
/// giving the memory its list freed back (see `heap`).
const BIG_LIST: usize = 1000;

pub mod canary;
pub mod load;
pub mod logs;

/// How the console opens: on which screen, with a load test running, scraping which URLs.
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub view: Option<View>,
    /// `tractor loadtest`'s flags, as the load prompt takes them.
    pub load: Option<String>,
    pub scrape_urls: Vec<String>,
    /// How https scrape URLs are checked.
    pub scrape_tls: crate::tls::TlsArgs,
    /// The servers' figures from this Prometheus instead of scraping each pod.
    pub prometheus: Option<(crate::prom::Prom, crate::prom::source::Settings)>,
}

/// What the console shows and writes to.
pub enum Cluster {
    Kube(Connection, Runner),
    /// The local backend: replicas as child processes, started with the console.
    Local(crate::local::Config, crate::local::spec::Spec),
    /// Only the load test and `--scrape` URLs.
    None,
}

/// Hands one effect to whoever carries it out; results come back as events.
fn dispatch(
    e: Effect,
    runner: Option<&Backend>,
    loads: &mut load::LoadRunner,
    canaries: &mut canary::CanaryRunner,
    logs: &mut logs::LogsRunner,
    tx: &UnboundedSender<AppEvent>,
) {
    tracing::info!(effect = ?e, "effect");
    match e {
        Effect::Canary(c) => canaries.dispatch(c, runner, tx),
        Effect::Logs(l) => logs.dispatch(l, runner, tx),
        Effect::StartLoad { args } => loads.start(*args, tx.clone()),
        Effect::StopLoad => loads.stop(),
        Effect::Prepare { target, action } | Effect::Execute { target, action }
            if runner.is_none() =>
        {
            let _ = tx.send(AppEvent::Effect(EffectResult::Failed {
                target,
                action,
                failure: crate::failure::Failure::NoCluster,
            }));
        }
        e => {
            let (Some(r), tx) = (runner.cloned(), tx.clone()) else {
                return;
            };
            tokio::spawn(async move {
                let result = match e {
                    Effect::Prepare { target, action } => r.prepare(&target, action).await,
                    Effect::Execute { target, action } => r.execute(&target, action).await,
                    Effect::StartLoad { .. }
                    | Effect::StopLoad
                    | Effect::Canary(_)
                    | Effect::Logs(_) => return,
                };
                tracing::info!(result = ?result, "effect result");
                let _ = tx.send(AppEvent::Effect(result));
            });
        }
    }
}

fn spawn_input(tx: UnboundedSender<AppEvent>) {
    tokio::spawn(async move {
        let mut events = crossterm::event::EventStream::new();
        while let Some(ev) = events.next().await {
            match ev {
                Ok(ev) => {
                    if tx.send(AppEvent::Input(ev)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "terminal input failed");
                    return;
                }
            }
        }
    });
}

fn spawn_ticks(tx: UnboundedSender<AppEvent>, every: Duration) {
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(every);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            iv.tick().await;
            if tx.send(AppEvent::Tick(Timestamp::now())).is_err() {
                return;
            }
        }
    });
}

fn spawn_signals(tx: UnboundedSender<AppEvent>) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = int.recv() => {}
        }
        let _ = tx.send(AppEvent::Shutdown);
    });
}

/// Runs the console until quit. Without a cluster (`Cluster::None`) only the load test and
/// the explicit scrape URLs are shown. Returns how the load test ended, if one did.
pub async fn run(
    cluster: Cluster,
    config: Config,
    namespaces: Option<Vec<String>>,
    start: Start,
) -> Result<Option<crate::load::ended::LoadEnded>> {
    let (tx, mut rx) = unbounded_channel();
    let tick = Duration::from_millis(config.general.tick_ms);
    let (context, user) = match &cluster {
        Cluster::Kube(conn, _) => (conn.context.clone(), conn.user.clone()),
        Cluster::Local(..) => (
            "local".to_string(),
            std::env::var("USER").unwrap_or_else(|_| "-".into()),
        ),
        Cluster::None => ("(no cluster)".to_string(), "-".to_string()),
    };
    let mut state = State::new(config, context, user, Timestamp::now());
    // The config does not change while the console runs: the theme is built once.
    let theme = crate::ui::Theme::for_terminal(
        &state.config.theme,
        crate::ui::theme::no_color(std::env::var_os("NO_COLOR")),
    );
    state.namespaces = namespaces.clone();
    state.no_cluster = matches!(cluster, Cluster::None);
    let settings = crate::scrape::source::Settings::from(&state.config.scrape);
    // an in-cluster load test's Job goes to the namespace in view
    let fleet = match &cluster {
        Cluster::Kube(conn, _) => Some(crate::load::fleet::coordinator::FleetCluster {
            client: conn.client.clone(),
            namespace: namespaces
                .as_ref()
                .and_then(|n| n.first().cloned())
                .unwrap_or_else(|| conn.namespace.clone()),
        }),
        Cluster::Local(..) | Cluster::None => None,
    };
    let mut tasks = Vec::new();
    // the deployment in view, for the scrape source (it scrapes that one alone when there
    // are more serving pods than scrape.max_pods)
    let (focus_tx, focus_rx) = tokio::sync::watch::channel(Vec::new());
    let backend = match cluster {
        Cluster::Kube(conn, runner) => {
            state.read_only |= runner.read_only;
            state.helm = crate::k8s::helm::on_path().is_some();
            // the scrape source scrapes the pods the console's own pod watch sees
            let pods = crate::scrape::source::Pods::default();
            tasks.extend(crate::k8s::watch::spawn_all_tapped(
                &conn.client,
                namespaces.as_deref(),
                Some(&conn.namespace),
                &tx,
                Some(pods.tap()),
            ));
            match start.prometheus.clone() {
                Some((prom, ps)) => {
                    tracing::info!(prometheus = %prom.describe(), "metrics from Prometheus");
                    tasks.push(crate::prom::source::spawn(prom, ps, tx.clone()));
                }
                None => tasks.push(crate::scrape::source::spawn_for(
                    &conn.client,
                    pods,
                    settings,
                    focus_rx.clone(),
                    &tx,
                )),
            }
            tracing::info!(context = %conn.context, server = %conn.server, "console started");
            Some(Backend::Kube(Box::new(runner)))
        }
        Cluster::Local(cfg, spec) => {
            let dir = cfg.store.dir.display().to_string();
            let handle = crate::local::start(cfg, spec, tx.clone())
                .map_err(|e| color_eyre::eyre::eyre!("local backend ({dir}): {e}"))?;
            tracing::info!(state_dir = %dir, front_port = handle.front_port, "console started on the local backend");
            state.read_only |= handle.read_only;
            // the load (if any) starts when a replica can take it, not into a wall of 503s
            if start.load.is_some() {
                eprintln!("starting the local replicas…");
                if !handle.wait_ready(Duration::from_secs(60)).await {
                    eprintln!(
                        "no replica became ready in 60 s: see the logs in {dir}/logs (the console starts anyway)"
                    );
                }
            }
            Some(Backend::Local(std::sync::Arc::new(handle)))
        }
        Cluster::None => {
            tracing::info!("console started without a cluster");
            None
        }
    };
    tasks.extend(crate::scrape::urls::spawn(
        start.scrape_urls.clone(),
        &start.scrape_tls,
        settings.interval,
        settings.timeout,
        &tx,
    ));
    let runner = backend.as_ref();
    // a load test that lags makes the canaries' windows of the same time inconclusive
    let lag = crate::load::health::LagSignal::new();
    let mut loads = load::LoadRunner::new(lag.clone(), fleet, state.read_only);
    let mut canaries = canary::CanaryRunner::new(settings, lag);
    let mut logs = logs::LogsRunner::default();
    if let Some(v) = start.view {
        state.view = v;
    }
    if let Some(line) = &start.load {
        for e in crate::state::update::load::start(&mut state, line) {
            dispatch(e, runner, &mut loads, &mut canaries, &mut logs, &tx);
        }
    }
    let mut guard = crate::tui::Guard::enter().wrap_err("cannot set up the terminal")?;
    spawn_input(tx.clone());
    spawn_ticks(tx.clone(), tick);
    spawn_signals(tx.clone());
    let mut perf = crate::perf::PerfLog::from_env();
    // when the last frame was drawn
    let mut drawn_at = Instant::now()
        .checked_sub(FRAME_GAP)
        .unwrap_or_else(Instant::now);
    loop {
        // a change that is not drawn yet is drawn once FRAME_GAP has passed since the last
        // frame, whatever else arrives
        let next = if state.dirty {
            tokio::select! {
                ev = rx.recv() => Next::Event(ev),
                () = tokio::time::sleep_until((drawn_at + FRAME_GAP).into()) => Next::Draw,
            }
        } else {
            Next::Event(rx.recv().await)
        };
        let batch = Instant::now();
        let mut input = false;
        if let Next::Event(ev) = next {
            let Some(ev) = ev else { break };
            let mut listed = 0;
            let mut ev = Some(ev);
            let mut effects = Vec::new();
            while let Some(e) = ev.take().or_else(|| rx.try_recv().ok()) {
                if let Some(p) = perf.as_mut() {
                    p.event(&e);
                }
                match &e {
                    AppEvent::Kube(ClusterDelta::Resynced { objects, .. }) => {
                        listed += objects.len();
                    }
                    AppEvent::Input(_) | AppEvent::Shutdown => input = true,
                    _ => {}
                }
                effects.extend(update(&mut state, e));
            }
            if listed >= BIG_LIST {
                crate::heap::release_freed();
            }
            for e in effects {
                dispatch(e, runner, &mut loads, &mut canaries, &mut logs, &tx);
            }
            if state.quit {
                break;
            }
        }
        // a key is answered at once; the cluster's and the scrapes' changes are drawn at
        // most every FRAME_GAP (10,000 pods changing would otherwise redraw per event)
        if state.dirty && (input || drawn_at.elapsed() >= FRAME_GAP) {
            let size = guard.terminal.size().wrap_err("terminal size")?;
            state.page = usize::from(size.height.saturating_sub(8)).max(1);
            guard
                .terminal
                .draw(|f| crate::ui::draw(&state, f, &theme))
                .wrap_err("drawing")?;
            state.dirty = false;
            drawn_at = Instant::now();
            // what is in view changes only with what is drawn
            let focus = crate::state::update::scrape_focus(&state);
            focus_tx.send_if_modified(|cur| {
                let changed = *cur != focus;
                *cur = focus;
                changed
            });
            if let Some(p) = perf.as_mut() {
                // what the loop was busy with for this frame: the batch that woke it and
                // the draw (the time a key waits at most behind a frame)
                p.frame(batch.elapsed());
            }
        }
        if let Some(p) = perf.as_mut() {
            p.maybe_write(&state);
        }
    }
    loads.stop();
    logs.stop();
    let driving = canaries.driving();
    canaries.stop();
    for w in tasks {
        w.abort();
    }
    drop(guard);
    loads.finish().await;
    if driving > 0 {
        eprintln!(
            "{driving} canary run(s) stopped with the console: each stays at its step; `tractor rollout canary resume deploy/NAME` drives it on"
        );
    }
    if let Some(Backend::Local(h)) = backend {
        eprintln!("stopping the local replicas (each drains first)…");
        drop(h);
    }
    Ok(state.load.and_then(|r| r.ended).map(|(_, result)| result))
}
