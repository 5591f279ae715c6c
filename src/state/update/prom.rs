//! The Prometheus source's reports in `update`: a round's windows become each pod's
//! scrape pair (nothing at the window's start, the increases at its end), the backfill
//! becomes the monitor's samples from before the start, and the header says where it
//! asks, with which window, and what is wrong when a round gives nothing for the pods here.
use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::model::{Key, MODEL_VERSION_LABEL};
use crate::prom::PromEvent;
use crate::prom::events::Pods;
use crate::scrape::PodMetrics;
use crate::state::{PodScrape, PromStatus, State, timeline};

/// A window's figures as two scrapes `window` apart: nothing, then the increases (the
/// version and the gauges are the end's).
pub fn as_scrape(at: Timestamp, window: Duration, m: PodMetrics) -> PodScrape {
    let start = SignedDuration::try_from(window)
        .ok()
        .and_then(|w| at.checked_sub(w).ok())
        .unwrap_or(at);
    let zero = PodMetrics {
        version: m.version.clone(),
        ..PodMetrics::default()
    };
    PodScrape {
        prev: Some((start, zero)),
        last: Some((at, m)),
        error: None,
    }
}

/// After any event: a backfill that came before the watches had listed is applied once
/// they have.
pub(super) fn after(s: &mut State) {
    if s.prom_backfill.is_none() {
        return;
    }
    let synced = !s.sources.is_empty()
        && s.sources
            .values()
            .all(|v| *v != crate::event::SourceStatus::Syncing);
    if !synced {
        return;
    }
    if let Some(h) = s.prom_backfill.take() {
        let steps: Vec<(Timestamp, HashMap<Key, PodScrape>)> = h
            .steps
            .into_iter()
            .map(|(at, pods)| {
                let scrapes = pods
                    .into_iter()
                    .map(|(k, m)| (k, as_scrape(at, h.window, m)))
                    .collect();
                (at, scrapes)
            })
            .collect();
        timeline::backfill(s, h.from, &steps);
    }
}

pub(super) fn on_event(s: &mut State, ev: PromEvent) {
    match ev {
        PromEvent::Started {
            at,
            scrape_interval,
            window,
        } => {
            s.prom = Some(PromStatus {
                at,
                scrape_interval,
                window: Some(window),
                last_ok: None,
                pods: 0,
                problem: None,
            });
        }
        PromEvent::Backfill(h) => {
            // pods are put under their revisions by the watches' objects: wait for them
            s.prom_backfill = Some(h);
        }
        PromEvent::Window { at, window, pods } => {
            let problem = unmatched(s, &pods);
            let n = pods.len();
            for (k, m) in pods {
                s.scrapes.insert(k, as_scrape(at, window, m));
            }
            let live = &s.cluster.pods;
            s.scrapes
                .retain(|k, _| live.contains_key(k) || timeline::is_url_target(k));
            if let Some(p) = s.prom.as_mut() {
                p.last_ok = Some(at);
                p.pods = n;
                p.problem = problem;
            }
        }
        PromEvent::Failed { at, why } => {
            let st = s.prom.get_or_insert(PromStatus {
                at,
                scrape_interval: None,
                window: None,
                last_ok: None,
                pods: 0,
                problem: None,
            });
            st.problem = Some(format!("{}: {why}", why.kind()));
        }
    }
}

/// When the round has series but none for the serving pods the console watches: which
/// pods it has, so the labels can be compared.
fn unmatched(s: &State, pods: &Pods) -> Option<String> {
    let serving: Vec<&Key> = s
        .cluster
        .pods
        .iter()
        .filter(|(_, p)| {
            p.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(MODEL_VERSION_LABEL))
        })
        .map(|(k, _)| k)
        .collect();
    if serving.is_empty() || serving.iter().any(|k| pods.contains_key(*k)) {
        return None;
    }
    let seen: Vec<String> = pods
        .keys()
        .take(3)
        .map(|(ns, p)| format!("{ns}/{p}"))
        .collect();
    Some(if seen.is_empty() {
        format!(
            "no series for the {} serving pods watched (e.g. {}/{})",
            serving.len(),
            serving[0].0,
            serving[0].1
        )
    } else {
        format!(
            "no series for the {} serving pods watched (e.g. {}/{}); its series are of other pods: {}",
            serving.len(),
            serving[0].0,
            serving[0].1,
            seen.join(", ")
        )
    })
}
