//! The lanes the open loop sends from.
use crate::load::engine::priority::{self, Applied};

/// The open loop's request runtimes: one single-threaded runtime per core, each on its own
/// thread until closed; the caller's runtime alone when threads cannot be started.
pub(super) struct Lanes {
    pub(super) handles: Vec<tokio::runtime::Handle>,
    /// The priority every lane's thread runs at (normal when one was refused idle, or when
    /// the lanes are the caller's runtime).
    pub(super) priority: Applied,
    close: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Lanes {
    /// Starts the lanes, their threads at `wanted`.
    pub(super) fn start(wanted: Applied) -> Lanes {
        let mut lanes = Lanes {
            handles: Vec::new(),
            priority: wanted,
            close: Vec::new(),
            threads: Vec::new(),
        };
        let (told_tx, told) = std::sync::mpsc::channel();
        for i in 0..crate::load::health::cores() {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                break;
            };
            let handle = rt.handle().clone();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let told_tx = told_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("load-lane-{i}"))
                .spawn(move || {
                    let _ = told_tx.send(priority::apply_to_this_thread(wanted).is_ok());
                    drop(told_tx);
                    let _ = rt.block_on(rx);
                });
            if let Ok(t) = spawned {
                lanes.handles.push(handle);
                lanes.close.push(tx);
                lanes.threads.push(t);
            }
        }
        drop(told_tx);
        // each started thread says once, before it runs anything
        let all_took_it = told.iter().take(lanes.threads.len()).all(|ok| ok);
        if !all_took_it {
            lanes.priority = Applied::Normal;
        }
        if lanes.handles.is_empty() {
            lanes.handles.push(tokio::runtime::Handle::current());
            lanes.priority = Applied::Normal;
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
