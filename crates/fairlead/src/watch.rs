//! Directory watching with debounce: many file events (an editor's write, a `kubectl`-style
//! rename, a Secret mount swapping its `..data` link) become one rebuild.

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Quiet time after the last event before rebuilding.
const QUIET: Duration = Duration::from_millis(20);
/// Longest a rebuild waits while events keep coming.
const CEILING: Duration = Duration::from_millis(100);

/// Watches `dir` (not recursively). Every event, whatever the file, wakes the receiver: the
/// rebuild decides what changed, so renames through dot-named temporaries and symlink swaps are
/// never missed. The watcher stops when the returned value is dropped.
pub fn watch_dir(dir: &Path) -> notify::Result<(RecommendedWatcher, mpsc::Receiver<()>)> {
    // Capacity 1: one pending wake-up is all a rebuild needs.
    let (tx, rx) = mpsc::channel(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(ev) if ev.kind.is_access() => {}
        Ok(_) => {
            let _ = tx.try_send(());
        }
        Err(err) => {
            tracing::warn!(%err, "file watch error; rescanning");
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok((watcher, rx))
}

/// Waits for the first wake-up, then until events have been quiet for [`QUIET`] or [`CEILING`]
/// has passed since the first. Returns `false` when the channel is closed.
pub async fn debounced(rx: &mut mpsc::Receiver<()>) -> bool {
    if rx.recv().await.is_none() {
        return false;
    }
    let ceiling = Instant::now() + CEILING;
    loop {
        let deadline = (Instant::now() + QUIET).min(ceiling);
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(())) if Instant::now() < ceiling => continue,
            Ok(Some(())) | Err(_) => return true,
            Ok(None) => return true,
        }
    }
}
