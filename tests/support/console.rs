//! The console's real watch → update pipeline, headless: the same tasks and
//! `update` as the TUI, with the state readable by the test.
#![allow(dead_code)]
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::unbounded_channel;
use tractor::config::Config;
use tractor::event::AppEvent;
use tractor::state::{State, update};

pub struct Console {
    pub state: Arc<Mutex<State>>,
    via: tractor::scrape::source::Via,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Console {
    /// Watches `namespaces` (all when `None`) with `client`.
    pub fn start(
        client: &kube::Client,
        namespaces: Option<Vec<String>>,
        fallback: Option<&str>,
    ) -> Console {
        Console::start_with(client, namespaces, fallback, None)
    }

    /// The same, with the servers' figures from a Prometheus instead of scrapes.
    pub fn start_prom(
        client: &kube::Client,
        namespaces: Option<Vec<String>>,
        prom: tractor::prom::Prom,
        settings: tractor::prom::source::Settings,
    ) -> Console {
        Console::start_with(client, namespaces, None, Some((prom, settings)))
    }

    fn start_with(
        client: &kube::Client,
        namespaces: Option<Vec<String>>,
        fallback: Option<&str>,
        prom: Option<(tractor::prom::Prom, tractor::prom::source::Settings)>,
    ) -> Console {
        let (tx, mut rx) = unbounded_channel();
        let mut s = State::new(
            Config::defaults(),
            "e2e".into(),
            "e2e".into(),
            jiff::Timestamp::now(),
        );
        s.namespaces = namespaces.clone();
        // the monitor's samples follow the scrapes below
        s.config.scrape.interval_ms = 500;
        let state = Arc::new(Mutex::new(s));
        // as the console does: the scrape source follows the console's own pod watch, and
        // the deployment in view
        let pods = tractor::scrape::source::Pods::default();
        let (focus_tx, focus) = tokio::sync::watch::channel(Vec::new());
        let mut tasks = tractor::k8s::watch::spawn_all_tapped(
            client,
            namespaces.as_deref(),
            fallback,
            &tx,
            Some(pods.tap()),
        );
        // the API server refuses to proxy to loopback pod IPs: pods are scraped directly
        let via = match std::env::var("TRACTOR_E2E_SCRAPE_VIA").as_deref() {
            Ok("proxy") => tractor::scrape::source::Via::Proxy,
            _ => tractor::scrape::source::Via::PodIp,
        };
        let scrape = tractor::scrape::source::Settings {
            via,
            interval: std::time::Duration::from_millis(500),
            timeout: std::time::Duration::from_secs(2),
            concurrency: 4,
            max_pods: 200,
        };
        match prom {
            Some((p, settings)) => {
                tasks.push(tractor::prom::source::spawn(p, settings, tx.clone()))
            }
            None => tasks.push(tractor::scrape::source::spawn_for(
                client,
                pods,
                scrape,
                focus.clone(),
                &tx,
            )),
        }
        let st = state.clone();
        let tick_tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut iv = tokio::time::interval(std::time::Duration::from_millis(500));
            loop {
                iv.tick().await;
                if tick_tx
                    .send(AppEvent::Tick(jiff::Timestamp::now()))
                    .is_err()
                {
                    return;
                }
            }
        }));
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let mut s = st.lock().unwrap();
                let effects = update(&mut s, ev);
                assert!(effects.is_empty(), "no keys are pressed here");
                let f = tractor::state::update::scrape_focus(&s);
                focus_tx.send_if_modified(|cur| {
                    let changed = *cur != f;
                    *cur = f;
                    changed
                });
            }
        }));
        Console { state, via, tasks }
    }

    /// How this console reaches the pods' /metrics.
    pub fn scrape_via(&self) -> tractor::scrape::source::Via {
        self.via
    }

    pub fn with<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap())
    }

    /// The latency row of `revision` of `ns/name`, once it shows scraped traffic from
    /// servers of `version` with p50 known and no failing target.
    pub fn served_latency(
        &self,
        ns: &str,
        name: &str,
        revision: i64,
        version: &str,
    ) -> Option<tractor::state::latency::RevisionLatency> {
        let key = (ns.to_string(), name.to_string());
        self.with(|s| {
            let rows = tractor::state::latency::by_revision(s, &key);
            let r = rows.iter().find(|r| r.revision == Some(revision))?;
            let ok = r.versions == version
                && r.requests > 0.0
                && matches!(r.p50, tractor::metrics::histogram::Quantile::Value(_))
                && r.failing == 0;
            ok.then(|| r.clone())
        })
    }

    /// Feeds `ev` to the console's state as its loop would (the effects are dropped).
    pub fn send(&self, ev: tractor::event::AppEvent) {
        let _ = tractor::state::update(&mut self.state.lock().unwrap(), ev);
    }

    /// The screen a person would see at 160×48.
    pub fn screen(&self) -> String {
        self.with(|s| super::render(s, 160, 48))
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
