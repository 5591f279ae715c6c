//! Logs go to a file (the terminal belongs to the UI).
use std::path::{Path, PathBuf};

use crate::config::Config;

pub fn path(flag: Option<&Path>, cfg: &Config) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None if !cfg.general.log_file.is_empty() => PathBuf::from(&cfg.general.log_file),
        None => crate::config::state_dir().join("tractor.log"),
    }
}

/// Starts logging to `path` (level from TRACTOR_LOG, default info).
pub fn init(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRACTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}
