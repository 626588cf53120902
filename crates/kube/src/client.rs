//! Building the API client: from a kubeconfig file when one is named, otherwise the in-cluster
//! service account, `$KUBECONFIG` or `~/.kube/config` (kube's inference order).

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read kubeconfig {path}: {source}")]
    ReadKubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("cannot use kubeconfig {path}: {source}")]
    UseKubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error(
        "cannot find Kubernetes credentials: no in-cluster service account, $KUBECONFIG or \
         ~/.kube/config ({0}); pass --kubeconfig"
    )]
    Infer(#[source] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
}

/// A client for the API server named by `kubeconfig`, or found the usual way when `None`.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<kube::Client, ConnectError> {
    let config = match kubeconfig {
        Some(path) => {
            let file =
                kube::config::Kubeconfig::read_from(path).map_err(|source| ConnectError::ReadKubeconfig {
                    path: path.to_path_buf(),
                    source,
                })?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|source| ConnectError::UseKubeconfig {
                    path: path.to_path_buf(),
                    source,
                })?
        }
        None => kube::Config::infer().await.map_err(ConnectError::Infer)?,
    };
    kube::Client::try_from(config).map_err(ConnectError::Client)
}
