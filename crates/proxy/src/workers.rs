//! Thread-per-core serving: one single-threaded tokio runtime per worker thread, each accepting
//! on its own `SO_REUSEPORT` socket of every port (the kernel spreads connections across them).
//!
//! Everything one client connection causes — its HTTP server task, the upstream connection tasks
//! it opens, the task that returns a connection to the pool — runs on the worker that accepted
//! it, and each worker has its own upstream pools. Nothing is handed between threads per request,
//! which is what the multi-threaded, work-stealing runtime did (measured in the commit that
//! introduced this module).

use std::cell::Cell;
use std::future::Future;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

thread_local! {
    /// Index of the worker running on this thread; 0 on threads that are not workers (tests
    /// that drive the proxy from their own runtime), which then share worker 0's pools.
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// Index of the current worker, for per-worker state.
pub(crate) fn current() -> usize {
    WORKER.with(Cell::get)
}

/// The worker runtimes.
pub(crate) struct Workers {
    handles: Vec<Handle>,
}

impl Workers {
    /// Starts `count` (at least 1) worker threads. They run until `stop` is cancelled.
    pub(crate) fn start(count: usize, stop: &CancellationToken) -> std::io::Result<Workers> {
        let count = count.max(1);
        let mut handles = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("fairlead-worker-{index}"))
                .spawn(move || {
                    WORKER.with(|w| w.set(index));
                    // A current-thread runtime runs spawned tasks only while it is driven.
                    runtime.block_on(stop.cancelled());
                })?;
        }
        Ok(Workers { handles })
    }

    pub(crate) fn count(&self) -> usize {
        self.handles.len()
    }

    /// Runs `make(index)` on every worker.
    pub(crate) fn spawn_on_each<F, Fut>(&self, mut make: F)
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        for (index, handle) in self.handles.iter().enumerate() {
            handle.spawn(make(index));
        }
    }

    /// Runs `fut` on the first worker.
    pub(crate) fn spawn<Fut>(&self, fut: Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        if let Some(handle) = self.handles.first() {
            handle.spawn(fut);
        }
    }
}
