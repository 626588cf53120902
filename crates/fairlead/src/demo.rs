//! `fairlead demo`: the quickstart in one command — echo backends plus `serve` on the bundled
//! example manifests.

use crate::cli::DemoArgs;
use anyhow::bail;
use tokio_util::sync::CancellationToken;

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !args.manifests.is_dir() {
        bail!(
            "manifest directory {} not found: run the demo from the repository root or pass --manifests",
            args.manifests.display()
        );
    }
    let echo_shutdown = CancellationToken::new();
    let echoes = crate::echo::start(&args.echoes, &echo_shutdown).await?;
    let result = crate::serve::run(args.manifests, args.common).await;
    echo_shutdown.cancel();
    echoes.close();
    echoes.wait().await;
    result
}
