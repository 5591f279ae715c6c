//! The lanes the open loop sends from.
use crate::load::engine::priority::{Applied, SchedThread};

/// The open loop's request runtimes: one single-threaded runtime per core, each on its own
/// thread until closed; the caller's runtime alone when threads cannot be started.
pub(super) struct Lanes {
    pub(super) handles: Vec<tokio::runtime::Handle>,
    /// The priority the lanes' threads run at, as the OS has it: the one wanted only when
    /// every one of them took it (another when one was refused, though the others keep
    /// it; normal when the lanes are the caller's runtime).
    pub(super) priority: Applied,
    close: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Lanes {
    /// Starts the lanes, their threads at `wanted`. Each thread builds its runtime and says
    /// so before it runs anything, at the priority it started with; this thread then sets
    /// the lane's priority, so that it never waits on a thread already made idle.
    pub(super) fn start(wanted: Applied) -> Lanes {
        let mut lanes = Lanes {
            handles: Vec::new(),
            priority: wanted,
            close: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..crate::load::health::cores() {
            let (ready_tx, ready) = std::sync::mpsc::channel();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let spawned = std::thread::Builder::new()
                .name(format!("load-lane-{i}"))
                .spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    let me = (rt.handle().clone(), SchedThread::current());
                    if ready_tx.send(me).is_ok() {
                        let _ = rt.block_on(rx);
                    }
                });
            let Ok(thread) = spawned else {
                break;
            };
            // the thread dropped its sender without a runtime: no lane there
            let Ok((handle, me)) = ready.recv() else {
                let _ = thread.join();
                break;
            };
            // refused: the lane runs as it started, which the read back says
            let _ = me.set(wanted);
            let got = me.get().unwrap_or(Applied::Normal);
            if got != wanted {
                lanes.priority = got;
            }
            lanes.handles.push(handle);
            lanes.close.push(tx);
            lanes.threads.push(thread);
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
