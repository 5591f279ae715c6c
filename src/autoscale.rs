//! Autoscaling math shared by the HPA explainer and the local autoscaler.
pub mod hpa;
