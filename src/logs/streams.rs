//! The open streams of a logs view or `tractor logs`: one task per container, opened when
//! its key is wanted, stopped when it is not (its pod went away, its container restarted).
use std::collections::{BTreeMap, BTreeSet};

use tokio::task::JoinHandle;

use super::StreamKey;

#[derive(Default)]
pub struct Streams {
    open: BTreeMap<StreamKey, JoinHandle<()>>,
    /// Keys opened once: a key seen again (after a relist) is not read twice.
    seen: BTreeSet<StreamKey>,
}

impl Streams {
    /// Opens the wanted keys not open yet (`open(key, first)`: `first` for those wanted at
    /// the start, which the tail and since apply to) and stops the rest. The keys stopped.
    pub fn reconcile(
        &mut self,
        want: &BTreeSet<StreamKey>,
        mut open: impl FnMut(&StreamKey, bool) -> JoinHandle<()>,
    ) -> Vec<StreamKey> {
        let first = self.seen.is_empty();
        let gone: Vec<StreamKey> = self
            .open
            .keys()
            .filter(|k| !want.contains(k))
            .cloned()
            .collect();
        for k in &gone {
            if let Some(h) = self.open.remove(k) {
                h.abort();
            }
        }
        for k in want {
            if self.seen.insert(k.clone()) {
                self.open.insert(k.clone(), open(k, first));
            }
        }
        gone
    }

    /// Whether every stream has ended by itself (a read without follow is done).
    pub fn all_finished(&self) -> bool {
        self.open.values().all(JoinHandle::is_finished)
    }

    pub fn stop(&mut self) {
        for (_, h) in std::mem::take(&mut self.open) {
            h.abort();
        }
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pod: &str, restarts: i32) -> StreamKey {
        StreamKey {
            namespace: "ns".into(),
            pod: pod.into(),
            container: "c".into(),
            restarts,
            revision: None,
            alone: true,
        }
    }

    #[tokio::test]
    async fn streams_open_once_and_stop_when_unwanted() {
        let mut s = Streams::default();
        let mut opened: Vec<(String, bool)> = Vec::new();
        let pending = || tokio::spawn(std::future::pending::<()>());
        let want: BTreeSet<_> = [key("a", 0), key("b", 0)].into();
        s.reconcile(&want, |k, first| {
            opened.push((k.pod.clone(), first));
            pending()
        });
        // b restarted (a new run), c joined, a unchanged
        let want: BTreeSet<_> = [key("a", 0), key("b", 1), key("c", 0)].into();
        let gone = s.reconcile(&want, |k, first| {
            opened.push((format!("{}#{}", k.pod, k.restarts), first));
            pending()
        });
        assert_eq!(gone, vec![key("b", 0)]);
        assert_eq!(
            opened,
            vec![
                ("a".into(), true),
                ("b".into(), true),
                ("b#1".into(), false),
                ("c#0".into(), false)
            ]
        );
        assert!(!s.all_finished());
        let gone = s.reconcile(&BTreeSet::new(), |_, _| pending());
        assert_eq!(gone.len(), 3);
        assert!(s.all_finished());
    }
}
