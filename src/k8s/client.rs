//! A client for the chosen kubeconfig and context, and who it acts as.
use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    pub context: String,
    pub user: String,
    /// The context's namespace, or "default".
    pub namespace: String,
    pub server: String,
}

/// Why no client could be made for the kubeconfig and context asked for.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("kubeconfig {}: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("kubeconfig: {0} (set KUBECONFIG or pass --kubeconfig)")]
    Default(kube::config::KubeconfigError),
    #[error("kubeconfig has no current-context: pass --context")]
    NoCurrentContext,
    #[error("context \"{name}\" is not in the kubeconfig (it has: {})", known.join(", "))]
    UnknownContext { name: String, known: Vec<String> },
    #[error("context \"{context}\": {source}")]
    Config {
        context: String,
        source: kube::config::KubeconfigError,
    },
    #[error("context \"{context}\": {source}")]
    Client {
        context: String,
        source: kube::Error,
    },
}

pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Connection, ConnectError> {
    let kc = match kubeconfig {
        Some(p) => Kubeconfig::read_from(p).map_err(|source| ConnectError::File {
            path: p.to_path_buf(),
            source,
        })?,
        None => Kubeconfig::read().map_err(ConnectError::Default)?,
    };
    let ctx_name = match context {
        Some(c) => c.to_string(),
        None => kc
            .current_context
            .clone()
            .ok_or(ConnectError::NoCurrentContext)?,
    };
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == ctx_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| ConnectError::UnknownContext {
            name: ctx_name.clone(),
            known: kc.contexts.iter().map(|c| c.name.clone()).collect(),
        })?;
    let opts = KubeConfigOptions {
        context: Some(ctx_name.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|source| ConnectError::Config {
            context: ctx_name.clone(),
            source,
        })?;
    let server = config.cluster_url.to_string();
    let namespace = ctx.namespace.clone().unwrap_or_else(|| "default".into());
    let client = Client::try_from(config).map_err(|source| ConnectError::Client {
        context: ctx_name.clone(),
        source,
    })?;
    Ok(Connection {
        client,
        context: ctx_name,
        user: ctx.user.unwrap_or_else(|| "-".into()),
        namespace,
        server,
    })
}
