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

pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Connection, String> {
    let kc = match kubeconfig {
        Some(p) => {
            Kubeconfig::read_from(p).map_err(|e| format!("kubeconfig {}: {e}", p.display()))?
        }
        None => Kubeconfig::read()
            .map_err(|e| format!("kubeconfig: {e} (set KUBECONFIG or pass --kubeconfig)"))?,
    };
    let ctx_name = match context {
        Some(c) => c.to_string(),
        None => kc
            .current_context
            .clone()
            .ok_or("kubeconfig has no current-context: pass --context")?,
    };
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == ctx_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
            format!(
                "context \"{ctx_name}\" is not in the kubeconfig (it has: {})",
                names.join(", ")
            )
        })?;
    let opts = KubeConfigOptions {
        context: Some(ctx_name.clone()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| format!("context \"{ctx_name}\": {e}"))?;
    let server = config.cluster_url.to_string();
    let namespace = ctx.namespace.clone().unwrap_or_else(|| "default".into());
    let client = Client::try_from(config).map_err(|e| format!("context \"{ctx_name}\": {e}"))?;
    Ok(Connection {
        client,
        context: ctx_name,
        user: ctx.user.unwrap_or_else(|| "-".into()),
        namespace,
        server,
    })
}
