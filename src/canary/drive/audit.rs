//! Where a canary run's writes and verdicts are recorded: a line each in the audit log,
//! with the plan or the window's numbers as its detail.
use serde::Serialize;

use super::DriveError;
use crate::action::Target;
use crate::audit::{AuditLog, Record};

/// Where the run's writes and verdicts are recorded.
#[derive(Debug, Clone)]
pub struct Audit {
    pub log: AuditLog,
    pub context: String,
    pub user: String,
    /// The stable Deployment.
    pub target: Target,
}

impl Audit {
    pub(super) fn record<T: Serialize>(
        &self,
        action: &str,
        command: String,
        result: &str,
        detail: &T,
    ) -> Result<(), DriveError> {
        let r = Record::canary(
            &self.context,
            &self.user,
            &self.target,
            action,
            command,
            result,
            detail,
        );
        self.log.append(&r).map_err(|e| DriveError::Audit {
            path: self.log.path().to_path_buf(),
            detail: e.to_string(),
        })
    }
}
