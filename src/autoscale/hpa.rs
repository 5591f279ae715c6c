//! The HorizontalPodAutoscaler (autoscaling/v2) algorithm as a pure function.
//!
//! Follows the controller: per metric `desired = ceil(currentReplicas × current/target)`
//! unless the ratio is within the tolerance; the maximum over metrics; then the
//! behavior's stabilization windows and rate policies; then min/max. Every step is
//! kept in [`Explanation`] so the console can show the numbers.

/// How a metric's target is expressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Percent of the pods' requests (Resource, ContainerResource).
    Utilization(f64),
    /// Per-pod average of the metric.
    AverageValue(f64),
    /// The metric's total value (Object, External).
    Value(f64),
}

/// One metric with its current reading in the unit of its target.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub target: Target,
    /// For `Utilization` and `AverageValue` on Resource/Pods metrics: the per-pod
    /// average; for `Value` and Object/External `AverageValue`: the total.
    pub current: f64,
    /// Object/External metrics with an `AverageValue` target divide the total by the
    /// replica count; Resource and Pods metrics are already per pod.
    pub total: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Pods,
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub value: i32,
    pub period_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Max,
    Min,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub stabilization_seconds: i64,
    pub select: Select,
    pub policies: Vec<Policy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behavior {
    pub scale_up: Rules,
    pub scale_down: Rules,
}

impl Default for Behavior {
    /// The controller's defaults when `spec.behavior` is absent.
    fn default() -> Self {
        Behavior {
            scale_up: Rules {
                stabilization_seconds: 0,
                select: Select::Max,
                policies: vec![
                    Policy {
                        kind: PolicyKind::Percent,
                        value: 100,
                        period_seconds: 15,
                    },
                    Policy {
                        kind: PolicyKind::Pods,
                        value: 4,
                        period_seconds: 15,
                    },
                ],
            },
            scale_down: Rules {
                stabilization_seconds: 300,
                select: Select::Max,
                policies: vec![Policy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period_seconds: 15,
                }],
            },
        }
    }
}

/// A past recommendation or scale event, `age_seconds` before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Past {
    pub age_seconds: i64,
    pub replicas: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub current_replicas: i32,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub metrics: Vec<Metric>,
    pub behavior: Behavior,
    pub tolerance: f64,
    /// Earlier recommendations (for the stabilization windows).
    pub recommendations: Vec<Past>,
    /// Replica changes: positive for scale-ups, negative for scale-downs (for policies).
    pub scale_events: Vec<Past>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricStep {
    pub name: String,
    pub ratio: f64,
    pub within_tolerance: bool,
    pub proposal: i32,
    /// The arithmetic in words, with the numbers.
    pub formula: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub metrics: Vec<MetricStep>,
    /// Max over metrics (or current replicas when there are no usable metrics).
    pub proposal: i32,
    pub stabilized: i32,
    pub stabilization: String,
    /// The rate limit applied, if it bound.
    pub limited: i32,
    pub limit: String,
    pub desired: i32,
    pub bounds: String,
}

/// One metric's proposal: `ceil(current_replicas × ratio)` outside the tolerance.
pub fn metric_step(m: &Metric, current_replicas: i32, tolerance: f64) -> MetricStep {
    let replicas = f64::from(current_replicas.max(0));
    let (target, what) = match m.target {
        Target::Utilization(t) => (t, "utilization"),
        Target::AverageValue(t) => (t, "average"),
        Target::Value(t) => (t, "value"),
    };
    if target <= 0.0 || !m.current.is_finite() {
        return MetricStep {
            name: m.name.clone(),
            ratio: f64::NAN,
            within_tolerance: false,
            proposal: current_replicas,
            formula: format!(
                "{}: target {target} is not usable, keeps {current_replicas}",
                m.name
            ),
        };
    }
    // Object/External AverageValue: the total divided over the replicas.
    let per_replica_total = m.total && matches!(m.target, Target::AverageValue(_));
    let ratio = if per_replica_total {
        if replicas > 0.0 {
            m.current / (target * replicas)
        } else {
            m.current / target
        }
    } else {
        m.current / target
    };
    let within = current_replicas > 0 && (1.0 - ratio).abs() <= tolerance;
    let raw = if per_replica_total {
        (m.current / target).ceil()
    } else if current_replicas == 0 {
        ratio.ceil()
    } else {
        (ratio * replicas).ceil()
    };
    let proposal = if within {
        current_replicas
    } else {
        clamp_i32(raw)
    };
    let formula = if within {
        format!(
            "{}: {what} {} / target {} = {:.3}, within ±{:.0}% → keep {current_replicas}",
            m.name,
            num(m.current),
            num(target),
            ratio,
            tolerance * 100.0
        )
    } else if per_replica_total {
        format!(
            "{}: ceil({} / {} per pod) = {proposal}",
            m.name,
            num(m.current),
            num(target)
        )
    } else {
        format!(
            "{}: ceil({current_replicas} × {} / {}) = ceil({:.3}) = {proposal}",
            m.name,
            num(m.current),
            num(target),
            ratio * replicas.max(1.0)
        )
    };
    MetricStep {
        name: m.name.clone(),
        ratio,
        within_tolerance: within,
        proposal,
        formula,
    }
}

/// The whole recommendation with each step's numbers.
pub fn recommend(input: &Input) -> Explanation {
    let cur = input.current_replicas;
    let metrics: Vec<MetricStep> = input
        .metrics
        .iter()
        .map(|m| metric_step(m, cur, input.tolerance))
        .collect();
    let usable: Vec<i32> = metrics
        .iter()
        .filter(|s| s.ratio.is_finite())
        .map(|s| s.proposal)
        .collect();
    let proposal = usable.iter().copied().max().unwrap_or(cur);

    // Stabilization: scale up to at most the lowest, down to at least the highest
    // recommendation inside each window.
    let mut up = proposal;
    let mut down = proposal;
    for r in &input.recommendations {
        if r.age_seconds < input.behavior.scale_up.stabilization_seconds {
            up = up.min(r.replicas);
        }
        if r.age_seconds < input.behavior.scale_down.stabilization_seconds {
            down = down.max(r.replicas);
        }
    }
    let mut stabilized = cur;
    if stabilized < up {
        stabilized = up;
    }
    if stabilized > down {
        stabilized = down;
    }
    let stabilization = if stabilized == proposal {
        "no change from the stabilization windows".to_string()
    } else if stabilized < proposal {
        format!(
            "scale-up window {}s holds it at {stabilized} (lowest recommendation in the window)",
            input.behavior.scale_up.stabilization_seconds
        )
    } else {
        format!(
            "scale-down window {}s holds it at {stabilized} (highest recommendation in the window)",
            input.behavior.scale_down.stabilization_seconds
        )
    };

    let (limited, limit) = if stabilized > cur {
        let l = scale_up_limit(cur, &input.scale_events, &input.behavior.scale_up).max(cur);
        if stabilized > l {
            (l, format!("scale-up policies allow at most {l} now"))
        } else {
            (stabilized, format!("scale-up policies allow up to {l}"))
        }
    } else if stabilized < cur {
        let l = scale_down_limit(cur, &input.scale_events, &input.behavior.scale_down).min(cur);
        if stabilized < l {
            (l, format!("scale-down policies allow at least {l} now"))
        } else {
            (stabilized, format!("scale-down policies allow down to {l}"))
        }
    } else {
        (stabilized, "no scaling: policies do not apply".to_string())
    };

    let desired = limited.clamp(
        input.min_replicas,
        input.max_replicas.max(input.min_replicas),
    );
    let bounds = if desired > limited {
        format!("raised to minReplicas {}", input.min_replicas)
    } else if desired < limited {
        format!("capped at maxReplicas {}", input.max_replicas)
    } else {
        format!(
            "within min {} / max {}",
            input.min_replicas, input.max_replicas
        )
    };
    Explanation {
        metrics,
        proposal,
        stabilized,
        stabilization,
        limited,
        limit,
        desired,
        bounds,
    }
}

fn scale_up_limit(cur: i32, events: &[Past], rules: &Rules) -> i32 {
    let mut result: Option<i32> = None;
    if rules.select == Select::Disabled {
        return cur;
    }
    for p in &rules.policies {
        let added: i32 = events
            .iter()
            .filter(|e| e.age_seconds < p.period_seconds && e.replicas > 0)
            .map(|e| e.replicas)
            .sum();
        let start = f64::from(cur - added);
        let proposed = match p.kind {
            PolicyKind::Pods => clamp_i32(start + f64::from(p.value)),
            PolicyKind::Percent => clamp_i32((start * (1.0 + f64::from(p.value) / 100.0)).ceil()),
        };
        result = Some(match (result, rules.select) {
            (None, _) => proposed,
            (Some(r), Select::Min) => r.min(proposed),
            (Some(r), _) => r.max(proposed),
        });
    }
    result.unwrap_or(cur)
}

fn scale_down_limit(cur: i32, events: &[Past], rules: &Rules) -> i32 {
    let mut result: Option<i32> = None;
    if rules.select == Select::Disabled {
        return cur;
    }
    for p in &rules.policies {
        let removed: i32 = events
            .iter()
            .filter(|e| e.age_seconds < p.period_seconds && e.replicas < 0)
            .map(|e| -e.replicas)
            .sum();
        let start = f64::from(cur + removed);
        let proposed = match p.kind {
            PolicyKind::Pods => clamp_i32(start - f64::from(p.value)),
            PolicyKind::Percent => clamp_i32((start * (1.0 - f64::from(p.value) / 100.0)).trunc()),
        };
        // For scale-down, "Max" selects the policy allowing the biggest change: the lowest count.
        result = Some(match (result, rules.select) {
            (None, _) => proposed,
            (Some(r), Select::Min) => r.max(proposed),
            (Some(r), _) => r.min(proposed),
        });
    }
    result.unwrap_or(cur)
}

fn clamp_i32(v: f64) -> i32 {
    if v.is_nan() {
        0
    } else {
        v.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

fn num(v: f64) -> String {
    crate::model::quantity::short(v)
}

#[cfg(test)]
mod tests;
