//! The lanes the open loop sends from.

/// The open loop's request runtimes: one single-threaded runtime per core, each on its own
/// thread until closed; the caller's runtime alone when threads cannot be started.
pub(super) struct Lanes {
    pub(super) handles: Vec<tokio::runtime::Handle>,
    close: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Lanes {
    pub(super) fn start() -> Lanes {
        let mut lanes = Lanes {
            handles: Vec::new(),
            close: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..crate::load::health::cores() {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                break;
            };
            let handle = rt.handle().clone();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let spawned = std::thread::Builder::new()
                .name(format!("load-lane-{i}"))
                .spawn(move || {
                    let _ = rt.block_on(rx);
                });
            if let Ok(t) = spawned {
                lanes.handles.push(handle);
                lanes.close.push(tx);
                lanes.threads.push(t);
            }
        }
        if lanes.handles.is_empty() {
            lanes.handles.push(tokio::runtime::Handle::current());
        }
        lanes
    }

    /// Ends the lanes' runtimes (their idle connections close) and waits for the threads.
    pub(super) fn close(self) {
        for tx in self.close {
            let _ = tx.send(());
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}
