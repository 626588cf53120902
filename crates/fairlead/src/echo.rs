//! `fairlead echo`: run JSON echo backends until SIGTERM / SIGINT.

use crate::cli::{parse_listen, EchoArgs};
use anyhow::{anyhow, Context};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub async fn run(args: EchoArgs) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let tasks = start(&args.listen, &shutdown).await?;
    crate::serve::shutdown_signal().await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// Binds every `ADDR[=NAME]` and serves an echo backend on it.
pub async fn start(specs: &[String], shutdown: &CancellationToken) -> anyhow::Result<TaskTracker> {
    let tasks = TaskTracker::new();
    for spec in specs {
        let (addr, name) = parse_listen(spec).map_err(|e| anyhow!(e))?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("echo backend {name}: cannot listen on {addr}"))?;
        tracing::info!(%addr, %name, "echo backend listening");
        tasks.spawn(fairlead_echo::serve(listener, name, shutdown.clone()));
    }
    Ok(tasks)
}
