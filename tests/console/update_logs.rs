//! The logs view through the real `update`: `o` opens it on the selection (the
//! deployment, the revision or the pod under the cursor) and asks for exactly the
//! containers to read; a pod that starts joins and one that goes leaves; lines land in
//! the view, the filter, scrolling back and the toggles work; leaving stops the streams.
//! And the view as drawn.
use crate::support;

use crossterm::event::KeyCode;
use support::{code, key, state, typed};
use tractor::event::{AppEvent, ClusterDelta, Kind, Object};
use tractor::logs::{Line, LogEvent, StreamKey};
use tractor::state::update::Effect;
use tractor::state::update::logs::LogsEffect;
use tractor::state::{State, View, update};

fn wanted(effects: &[Effect]) -> Vec<String> {
    let Some(Effect::Logs(LogsEffect::Streams { want, opts })) = effects.last() else {
        panic!("no streams asked: {effects:?}");
    };
    assert!(opts.follow && opts.tail == Some(500), "{opts:?}");
    want.iter()
        .map(|k| format!("{}#{}@{:?}", k.pod, k.restarts, k.revision))
        .collect()
}

fn line(s: &State, pod: &str, text: &str) -> AppEvent {
    let stream = s
        .logs
        .as_ref()
        .unwrap()
        .want
        .iter()
        .find(|k| k.pod == pod)
        .unwrap()
        .clone();
    AppEvent::Logs(LogEvent::Line(Line {
        stream,
        at: "2026-11-22T03:00:00Z".parse().ok(),
        text: text.into(),
    }))
}

#[test]
fn o_opens_the_logs_of_the_deployment_revision_or_pod_under_the_cursor() {
    let mut s = state();
    // on the list: every started container of the deployment's pods
    let fx = update(&mut s, key('o'));
    assert_eq!(s.view, View::Logs(("ml".into(), "classifier".into())));
    let all = wanted(&fx);
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(
        all.contains(&"classifier-7f8b6d4c5-fghij#1@Some(2)".to_string()),
        "{all:?}"
    );
    // back: the streams stop
    let fx = update(&mut s, code(KeyCode::Esc));
    assert_eq!(fx, vec![Effect::Logs(LogsEffect::Stop)]);
    assert!(s.logs.is_none());

    // the detail view: the revision under the cursor, then (tab) the pod under it
    update(&mut s, code(KeyCode::Enter));
    let fx = update(&mut s, key('o'));
    let rev = wanted(&fx);
    assert!(rev.iter().all(|k| k.ends_with("@Some(3)")), "{rev:?}");
    assert_eq!(s.logs.as_ref().unwrap().scope(), "revision 3");
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, code(KeyCode::Tab));
    let fx = update(&mut s, key('o'));
    assert_eq!(wanted(&fx).len(), 1);
    assert!(
        s.logs
            .as_ref()
            .unwrap()
            .scope()
            .starts_with("pod classifier-")
    );
}

#[test]
fn pods_join_and_leave_lines_land_and_the_view_scrolls_and_filters() {
    let mut s = state();
    update(&mut s, key('o'));
    let pod = "classifier-7f8b6d4c5-abcde";
    for i in 0..30 {
        let ev = line(&s, pod, &format!("GET /predict 200 in {i} ms"));
        update(&mut s, ev);
    }
    let ev = line(
        &s,
        "classifier-5c4d8e7f6-pqrst",
        "error: model v3 failed to load",
    );
    update(&mut s, ev);
    assert_eq!(s.logs.as_ref().unwrap().ring.len(), 31);
    // a line of a stream no longer wanted is dropped
    let mut stray = match line(&s, pod, "x") {
        AppEvent::Logs(LogEvent::Line(l)) => l,
        _ => unreachable!(),
    };
    stray.stream.restarts = 99;
    update(&mut s, AppEvent::Logs(LogEvent::Line(stray)));
    assert_eq!(s.logs.as_ref().unwrap().ring.len(), 31);

    // a pod that goes away leaves: the runner is told to read one container fewer
    let gone = s
        .cluster
        .pods
        .get(&("ml".to_string(), pod.to_string()))
        .cloned()
        .unwrap();
    let fx = update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Deleted(Kind::Pod, ("ml".into(), pod.into()))),
    );
    assert_eq!(wanted(&fx).len(), 4);
    // and one that starts joins
    let mut joined = gone;
    joined.metadata.name = Some("classifier-7f8b6d4c5-zzzzz".into());
    let fx = update(
        &mut s,
        AppEvent::Kube(ClusterDelta::Applied(Object::Pod(joined))),
    );
    assert!(wanted(&fx).contains(&"classifier-7f8b6d4c5-zzzzz#0@Some(2)".to_string()));
    // an unrelated change asks nothing
    let fx = update(&mut s, AppEvent::Tick(support::now()));
    assert!(fx.is_empty(), "{fx:?}");

    // scrolling back holds the view; new lines do not move it; the bottom follows again
    update(&mut s, code(KeyCode::Up));
    update(&mut s, code(KeyCode::Up));
    let v = s.logs.as_ref().unwrap();
    assert!(v.paused && v.scroll == 2);
    let ev = line(&s, "classifier-5c4d8e7f6-pqrst", "later");
    update(&mut s, ev);
    assert_eq!(s.logs.as_ref().unwrap().scroll, 3);
    let screen = support::render(&s, 120, 20);
    assert!(screen.contains("held (3 back)"), "{screen}");
    assert!(!screen.contains("later"), "{screen}");
    update(&mut s, key('G'));
    let v = s.logs.as_ref().unwrap();
    assert!(!v.paused && v.scroll == 0);
    let screen = support::render(&s, 120, 20);
    assert!(
        screen.contains("later") && screen.contains("following"),
        "{screen}"
    );

    // the filter: a regex over the lines (and pod names)
    update(&mut s, key('/'));
    typed(&mut s, "error|later");
    update(&mut s, code(KeyCode::Enter));
    let screen = support::render(&s, 120, 20);
    assert!(screen.contains("/error|later/ regex, 2 of 32"), "{screen}");
    assert!(!screen.contains("GET /predict"), "{screen}");

    // toggles: timestamps and wrap show; previous starts over (stop, then the restarted ones)
    update(&mut s, key('t'));
    assert!(support::render(&s, 120, 20).contains("2026-11-22T03:00:00Z error"));
    update(&mut s, key('w'));
    assert!(s.logs.as_ref().unwrap().wrap);
    let fx = update(&mut s, key('v'));
    assert_eq!(fx[0], Effect::Logs(LogsEffect::Stop));
    let Some(Effect::Logs(LogsEffect::Streams { want, opts })) = fx.last() else {
        panic!("{fx:?}");
    };
    assert!(opts.previous && !opts.follow);
    let restarted: Vec<&StreamKey> = want.iter().collect();
    assert!(restarted.iter().all(|k| k.restarts > 0), "{restarted:?}");
    assert!(s.logs.as_ref().unwrap().ring.is_empty());
}

#[test]
fn the_logs_view_as_drawn() {
    let mut s = state();
    update(&mut s, key('o'));
    for (pod, text) in [
        ("classifier-7f8b6d4c5-abcde", "listening on 0.0.0.0:8080"),
        (
            "classifier-5c4d8e7f6-pqrst",
            "model classifier v3 loaded in 41 ms",
        ),
        (
            "classifier-7f8b6d4c5-abcde",
            "GET /v2/models/classifier/infer 200 3.1ms",
        ),
    ] {
        let ev = line(&s, pod, text);
        update(&mut s, ev);
    }
    let stream = s.logs.as_ref().unwrap().want.iter().next().unwrap().clone();
    update(
        &mut s,
        AppEvent::Logs(LogEvent::Failed {
            stream,
            message: "forbidden: get pods/log (alice cannot get pods/log)".into(),
        }),
    );
    insta::assert_snapshot!(support::render(&s, 110, 14));
}

#[test]
fn the_view_keeps_the_configured_number_of_lines() {
    let mut cfg = tractor::config::Config::defaults();
    cfg.general.log_lines = 5;
    let mut s = support::state();
    s.config = cfg;
    update(&mut s, key('o'));
    for i in 0..8 {
        let ev = line(&s, "classifier-7f8b6d4c5-abcde", &format!("line {i}"));
        update(&mut s, ev);
    }
    let v = s.logs.as_ref().unwrap();
    assert_eq!((v.ring.len(), v.ring.dropped), (5, 3));
    let screen = support::render(&s, 120, 12);
    assert!(screen.contains("3 oldest dropped"), "{screen}");
    assert!(
        screen.contains("line 7") && !screen.contains("line 2"),
        "{screen}"
    );
}

#[test]
fn since_or_tail_is_typed_in_the_view_and_the_view_reads_again_that_far_back() {
    let mut cfg = tractor::config::Config::defaults();
    cfg.general.log_tail = 50;
    let mut s = support::state();
    s.config = cfg;
    let fx = update(&mut s, key('o'));
    let Some(Effect::Logs(LogsEffect::Streams { opts, .. })) = fx.last() else {
        panic!("{fx:?}");
    };
    // the configured tail when it opens
    assert_eq!((opts.tail, opts.since), (Some(50), None));
    assert!(support::render(&s, 120, 12).contains("all pods · last 50 lines"));
    let ev = line(&s, "classifier-7f8b6d4c5-abcde", "old line");
    update(&mut s, ev);

    // S: the prompt holds what is read now; 5m reads every container again since then
    update(&mut s, key('S'));
    assert_eq!(s.mode, tractor::state::Mode::LogsRange("50".into()));
    assert!(support::render(&s, 120, 12).contains("since/tail: 50"));
    for _ in 0..2 {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(&mut s, "5m");
    let fx = update(&mut s, code(KeyCode::Enter));
    assert_eq!(fx[0], Effect::Logs(LogsEffect::Stop));
    let Some(Effect::Logs(LogsEffect::Streams { want, opts })) = fx.last() else {
        panic!("{fx:?}");
    };
    assert_eq!(want.len(), 5);
    assert_eq!(
        (opts.since, opts.tail, opts.follow),
        (Some(std::time::Duration::from_secs(300)), None, true)
    );
    let v = s.logs.as_ref().unwrap();
    assert!(v.ring.is_empty(), "what was read before is dropped");
    assert!(support::render(&s, 120, 12).contains("all pods · since 5m"));

    // all, then a number of lines
    update(&mut s, key('S'));
    assert_eq!(s.mode, tractor::state::Mode::LogsRange("5m".into()));
    for _ in 0..2 {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(&mut s, "all");
    let fx = update(&mut s, code(KeyCode::Enter));
    let Some(Effect::Logs(LogsEffect::Streams { opts, .. })) = fx.last() else {
        panic!("{fx:?}");
    };
    assert_eq!((opts.since, opts.tail), (None, None));

    // what is not a range is named; nothing is read again
    update(&mut s, key('S'));
    for _ in 0..3 {
        update(&mut s, code(KeyCode::Backspace));
    }
    typed(&mut s, "five minutes");
    let fx = update(&mut s, code(KeyCode::Enter));
    assert!(fx.is_empty(), "{fx:?}");
    let screen = support::render(&s, 140, 12);
    assert!(
        screen.contains(
            "since/tail: \"five minutes\" is not a number of lines (200), a duration (5m, 1h) or all"
        ),
        "{screen}"
    );
    assert_eq!(
        s.logs.as_ref().unwrap().range,
        tractor::logs::range::Range::All
    );
}
