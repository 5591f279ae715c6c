//! Shared by the console's tests: fixtures from YAML, a state built through the
//! real `update`, and rendering into ratatui's TestBackend.
#![allow(dead_code)]
pub mod cli;
pub mod cluster;
pub mod console;
pub mod http;
pub mod kwok_logs;
pub mod netns;
pub mod pod_runner;
pub mod prometheus;
pub mod tls;
pub mod tmux;
pub mod traffic;
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Deserialize;
use tractor::config::Config;
use tractor::event::{AppEvent, ClusterDelta, Kind, Object, Source};
use tractor::state::{State, update};

pub const NOW: &str = "2026-11-22T03:00:00Z";

pub fn now() -> Timestamp {
    NOW.parse().unwrap()
}

/// Every object of a multi-document YAML file.
pub fn objects(yaml: &str) -> Vec<Object> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v = serde_json::Value::deserialize(doc).unwrap();
        if v.is_null() {
            continue;
        }
        let obj = match v["kind"].as_str() {
            Some("Deployment") => Object::Deployment(Box::new(serde_json::from_value(v).unwrap())),
            Some("ReplicaSet") => Object::ReplicaSet(Box::new(serde_json::from_value(v).unwrap())),
            Some("Pod") => Object::Pod(Box::new(serde_json::from_value(v).unwrap())),
            Some("HorizontalPodAutoscaler") => {
                Object::Hpa(Box::new(serde_json::from_value(v).unwrap()))
            }
            Some("Event") => Object::Event(Box::new(serde_json::from_value(v).unwrap())),
            Some("Job") => Object::Job(Box::new(serde_json::from_value(v).unwrap())),
            other => panic!("fixture kind {other:?}"),
        };
        out.push(obj);
    }
    out
}

pub fn fixture(name: &str) -> Vec<Object> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    objects(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

/// A state as the console would have it after the watchers' first lists.
pub fn state_from(objs: Vec<Object>) -> State {
    let mut s = State::new(
        Config::defaults(),
        "kind-tractor".into(),
        "alice".into(),
        now(),
    );
    for kind in Kind::ALL {
        let objects: Vec<Object> = objs.iter().filter(|o| o.kind() == kind).cloned().collect();
        let fx = update(
            &mut s,
            AppEvent::Kube(ClusterDelta::Resynced {
                source: Source {
                    kind,
                    namespace: None,
                },
                objects,
            }),
        );
        assert!(fx.is_empty());
    }
    s
}

pub fn state() -> State {
    state_from(fixture("cluster.yaml"))
}

pub fn render(s: &State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let theme = tractor::ui::Theme::from_config(&s.config.theme);
    t.draw(|f| tractor::ui::draw(s, f, &theme)).unwrap();
    t.backend().to_string()
}

pub fn key(c: char) -> AppEvent {
    use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    AppEvent::Input(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

pub fn code(code: crossterm::event::KeyCode) -> AppEvent {
    use crossterm::event::{Event, KeyEvent, KeyModifiers};
    AppEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn typed(s: &mut State, text: &str) {
    for c in text.chars() {
        update(s, key(c));
    }
}
