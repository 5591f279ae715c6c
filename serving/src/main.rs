use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tractor_serve::config::{Cli, Config};
use tractor_serve::{DrainOutcome, Server};

/// `--features mimalloc`: the allocator lever (README, tractor-serve's lever table).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if let Some(why) = tractor_serve::cpu::refusal() {
        eprintln!("tractor-serve: {why}");
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
                .unwrap_or_else(|| {
                    "info,tract_core=warn,tract_hir=warn,tract_onnx=warn,tract_linalg=warn".into()
                }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match Config::resolve(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tractor-serve: {e}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let server = match Server::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tractor-serve: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(
        model = %server.config.model.display(),
        sha256 = %server.model.sha256,
        batch = server.model.max_plan_batch(),
        load_ms = started.elapsed().as_millis() as u64,
        "model loaded, optimized and warmed up"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tractor-serve: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let addr = SocketAddr::new(server.config.host, server.config.port);
        let listener = match tractor_serve::listen::bind(addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tractor-serve: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        };
        let grpc = match server.config.grpc_port {
            None => None,
            Some(port) => {
                let addr = SocketAddr::new(server.config.host, port);
                match tractor_serve::listen::bind(addr) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        eprintln!(
                            "tractor-serve: cannot listen for gRPC on {addr}: {e} (choose another --grpc-port, or 0 to turn gRPC off)"
                        );
                        return ExitCode::from(1);
                    }
                }
            }
        };
        match server.serve(listener, grpc, shutdown_signal()).await {
            Ok(DrainOutcome::Complete) => ExitCode::SUCCESS,
            // The orchestrator asked us to stop; stopping late is still a clean stop.
            Ok(DrainOutcome::DeadlineReached) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tractor-serve: server error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => tracing::info!("SIGTERM received"),
                _ = i.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            tracing::warn!("cannot install signal handlers; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
