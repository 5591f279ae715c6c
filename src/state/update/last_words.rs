//! The last lines a crash-looping container printed, for the detail view's diagnosis:
//! which runs to read (the crash-looping containers of the deployment in view, once per
//! crash: a new crash is a new run), and what came back. Kept only for that deployment.
use std::collections::BTreeSet;

use super::Effect;
use super::logs::LogsEffect;
use crate::logs::{LastWords, RunKey};
use crate::state::{State, View, rows};

/// After a cluster change or a key (not on every tick or scrape: it reads the detail of the
/// deployment in view): the runs of that deployment that crashed and are not read yet are
/// asked for; the others are forgotten.
pub(super) fn after(s: &mut State) -> Vec<Effect> {
    let wanted = match &s.view {
        View::Detail(k) => crashed(s, k),
        _ => BTreeSet::new(),
    };
    s.last_words.retain(|run, _| wanted.contains(run));
    let new: Vec<RunKey> = wanted
        .into_iter()
        .filter(|run| !s.last_words.contains_key(run))
        .collect();
    if new.is_empty() {
        return vec![];
    }
    for run in &new {
        s.last_words.insert(run.clone(), LastWords::Reading);
    }
    vec![Effect::Logs(LogsEffect::LastWords(new))]
}

/// What a reader brought back; a run no longer wanted is dropped.
pub(super) fn on_read(s: &mut State, run: RunKey, words: LastWords) {
    if let Some(w) = s.last_words.get_mut(&run) {
        *w = words;
    }
}

/// The containers of `k`'s pods waiting in CrashLoopBackOff, each with its restart count.
fn crashed(s: &State, k: &crate::model::Key) -> BTreeSet<RunKey> {
    let Some(det) = rows::detail(s, k) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for (p, _) in &det.pods {
        for st in p
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
        {
            let waiting = st.state.as_ref().and_then(|s| s.waiting.as_ref());
            if waiting.and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff")
                && st.restart_count > 0
            {
                out.insert(RunKey {
                    namespace: k.0.clone(),
                    pod: p.metadata.name.clone().unwrap_or_default(),
                    container: st.name.clone(),
                    restarts: st.restart_count,
                });
            }
        }
    }
    out
}
