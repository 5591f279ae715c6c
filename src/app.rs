//! The TUI's loop: sources send owned events into one channel; the loop drains
//! it through `update`, hands effects to the runner, and draws when something changed.
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::config::Config;
use crate::event::AppEvent;
use crate::k8s::client::Connection;
use crate::k8s::runner::Runner;
use crate::state::{State, update};

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

pub async fn run(
    conn: Connection,
    config: Config,
    namespaces: Option<Vec<String>>,
    runner: Runner,
) -> Result<()> {
    let (tx, mut rx) = unbounded_channel();
    let tick = Duration::from_millis(config.general.tick_ms);
    let mut state = State::new(
        config,
        conn.context.clone(),
        conn.user.clone(),
        Timestamp::now(),
    );
    state.read_only |= runner.read_only;
    state.namespaces = namespaces.clone();
    let watchers = crate::k8s::watch::spawn_all(
        &conn.client,
        namespaces.as_deref(),
        Some(&conn.namespace),
        &tx,
    );
    let scrapers = crate::scrape::source::spawn(
        &conn.client,
        namespaces.as_deref(),
        crate::scrape::source::Settings::from(&state.config.scrape),
        &tx,
    );
    let mut guard = crate::tui::Guard::enter().wrap_err("cannot set up the terminal")?;
    spawn_input(tx.clone());
    spawn_ticks(tx.clone(), tick);
    spawn_signals(tx.clone());
    tracing::info!(context = %conn.context, server = %conn.server, "console started");
    while let Some(ev) = rx.recv().await {
        let mut effects = update(&mut state, ev);
        while let Ok(ev) = rx.try_recv() {
            effects.extend(update(&mut state, ev));
        }
        for e in effects {
            tracing::info!(effect = ?e, "effect");
            let r = runner.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let result = r.run(e).await;
                tracing::info!(result = ?result, "effect result");
                let _ = tx.send(AppEvent::Effect(result));
            });
        }
        if state.quit {
            break;
        }
        if state.dirty {
            let size = guard.terminal.size().wrap_err("terminal size")?;
            state.page = usize::from(size.height.saturating_sub(8)).max(1);
            guard
                .terminal
                .draw(|f| crate::ui::draw(&state, f))
                .wrap_err("drawing")?;
            state.dirty = false;
        }
    }
    for w in watchers.into_iter().chain(scrapers) {
        w.abort();
    }
    drop(guard);
    Ok(())
}
