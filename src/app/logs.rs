//! Runs the logs view's streams: opens and stops what `update` decided (the same for both
//! backends), reading through the API server or a local replica's log file, and forwards
//! what the readers report into the event channel; and reads the last lines of crashed
//! containers' previous runs that the diagnosis asks for.
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::backend::Backend;
use crate::event::AppEvent;
use crate::logs::LogEvent;
use crate::logs::streams::Streams;
use crate::state::update::logs::LogsEffect;

#[derive(Default)]
pub struct LogsRunner {
    streams: Streams,
    /// The readers' channel, forwarded into the console's.
    readers: Option<UnboundedSender<LogEvent>>,
}

impl LogsRunner {
    pub fn dispatch(
        &mut self,
        e: LogsEffect,
        backend: Option<&Backend>,
        tx: &UnboundedSender<AppEvent>,
    ) {
        match e {
            LogsEffect::Stop => self.stop(),
            LogsEffect::LastWords(runs) => {
                for run in runs {
                    let tx = tx.clone();
                    match backend {
                        Some(Backend::Kube(r)) => {
                            let client = r.client.clone();
                            tokio::spawn(async move {
                                // twice what is shown: blank lines are dropped
                                let n = 2 * crate::diagnose::LAST_LINES as i64;
                                let words = crate::logs::kube::last_words(client, &run, n).await;
                                let _ = tx.send(AppEvent::LastWords { run, words });
                            });
                        }
                        _ => {
                            let words = crate::logs::LastWords::Failed(
                                "local replicas are not restarted in place".into(),
                            );
                            let _ = tx.send(AppEvent::LastWords { run, words });
                        }
                    }
                }
            }
            LogsEffect::Streams { want, opts } => {
                let Some(backend) = backend else {
                    return;
                };
                let readers = self.readers(tx);
                let gone = self.streams.reconcile(&want, |k, first| {
                    let (k, opts, readers) = (k.clone(), opts.clone(), readers.clone());
                    match backend {
                        Backend::Kube(r) => {
                            crate::logs::kube::spawn_read(r.client.clone(), k, opts, first, readers)
                        }
                        Backend::Local(h) => {
                            let path = h.logs_dir.join(format!("{}.log", k.pod));
                            crate::logs::local::spawn_read(path, k, opts, first, readers)
                        }
                    }
                });
                for k in gone {
                    let _ = readers.send(LogEvent::Closed(k));
                }
            }
        }
    }

    /// The readers' sender, its forwarder started on first use.
    fn readers(&mut self, tx: &UnboundedSender<AppEvent>) -> UnboundedSender<LogEvent> {
        if let Some(r) = &self.readers
            && !r.is_closed()
        {
            return r.clone();
        }
        let (rtx, mut rrx) = unbounded_channel();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = rrx.recv().await {
                if tx.send(AppEvent::Logs(ev)).is_err() {
                    return;
                }
            }
        });
        self.readers = Some(rtx.clone());
        rtx
    }

    pub fn stop(&mut self) {
        self.streams = Streams::default();
    }
}
