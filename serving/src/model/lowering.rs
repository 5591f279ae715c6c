//! How convolutions become matrix products (`--conv-lowering`): tract copies the input patches
//! into a matrix first (eager im2col) or gathers them while packing the product's operand
//! (lazy im2col), and picks one by a fixed rule (kernel volume and scratch size). Which is
//! faster depends on the model and the CPU: on ResNet-50's 3×3 convolutions over 7×7 and 14×14
//! maps eager was about twice as fast per node here, on magika's 1-D convolution lazy was
//! slower. `auto` builds the plan each way, runs each on a fixed input and keeps the fastest
//! whose answers match tract's own choice; a model with symbolic dimensions keeps tract's rule.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::knobs::KnobScope;
use tract_onnx::tract_core::ops::cnn::Conv;
use tract_onnx::tract_core::plan::SimpleState;

/// A way to lower convolutions, or `Auto` to time them at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    Auto,
    /// tract's own rule.
    Tract,
    Eager,
    Lazy,
}

/// A `--conv-lowering` value that is none of the names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown convolution lowering {0:?}: use auto, tract, eager or lazy")]
pub struct LoweringError(pub String);

impl FromStr for Lowering {
    type Err = LoweringError;
    fn from_str(s: &str) -> Result<Lowering, LoweringError> {
        match s.trim() {
            "auto" => Ok(Lowering::Auto),
            "tract" => Ok(Lowering::Tract),
            "eager" => Ok(Lowering::Eager),
            "lazy" => Ok(Lowering::Lazy),
            other => Err(LoweringError(other.to_string())),
        }
    }
}

impl fmt::Display for Lowering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Lowering::Auto => "auto",
            Lowering::Tract => "tract",
            Lowering::Eager => "eager",
            Lowering::Lazy => "lazy",
        };
        f.write_str(s)
    }
}

impl Lowering {
    /// tract's knobs for this lowering, read while the model is optimized.
    fn scope(self) -> TractResult<KnobScope> {
        let knobs: &[(&str, &str)] = match self {
            Lowering::Auto | Lowering::Tract => &[],
            // No kernel is big enough, no scratch too big: eager wherever tract's rule looks
            // at those (it still takes lazy for a convolution whose output channels fit in one
            // kernel panel).
            Lowering::Eager => &[
                ("TRACT_LAZY_IM2COL_MIN_KERNEL", "1000000"),
                ("TRACT_LAZY_IM2COL_MAX_EAGER_BYTES", "1000000000000"),
            ],
            Lowering::Lazy => &[("TRACT_LAZY_IM2COL_MIN_KERNEL", "1")],
        };
        KnobScope::new(knobs.iter().copied())
    }

    /// Optimize `model` with this lowering (`Auto` is taken as `Tract`).
    pub fn optimize(self, model: TypedModel) -> TractResult<TypedModel> {
        self.scope()?.enter(|| model.into_optimized())
    }
}

fn has_conv(model: &TypedModel) -> bool {
    model.nodes().iter().any(|n| n.op_is::<Conv>())
}

/// Inputs to time and compare the lowerings on, when every input's shape is known: a fixed
/// non-zero pattern for float inputs (zeros would only show a convolution's bias), zeros for
/// the others.
pub(crate) fn probe_inputs(model: &TypedModel) -> Option<TVec<TValue>> {
    let outlets = model.input_outlets().ok()?;
    outlets
        .iter()
        .map(|o| {
            let fact = model.outlet_fact(*o).ok()?;
            let shape = fact.shape.as_concrete()?;
            let t = if fact.datum_type == f32::datum_type() {
                let n: usize = shape.iter().product();
                let xs: Vec<f32> = (0..n)
                    .map(|k| ((k * 7919) % 1000) as f32 / 1000.0 - 0.5)
                    .collect();
                Tensor::from_shape(shape, &xs).ok()?
            } else {
                Tensor::zero_dt(fact.datum_type, shape).ok()?
            };
            Some(t.into_tvalue())
        })
        .collect()
}

/// One way to run the model, being timed: its plan, a state to run it, its fastest run so far.
struct Timed {
    lowering: Lowering,
    /// Run with the registers' upper halves cleared ([`super::upper`]).
    clean: bool,
    plan: Arc<TypedSimplePlan>,
    state: TypedSimpleState,
    best: Duration,
}

impl Timed {
    /// The way, run once (a warm-up) for its outputs.
    fn new(
        lowering: Lowering,
        plan: Arc<TypedSimplePlan>,
        inputs: &TVec<TValue>,
        clean: bool,
    ) -> TractResult<(Timed, TVec<TValue>)> {
        let mut state = SimpleState::new(&plan)?;
        let out = super::upper::run(&mut state, inputs.clone(), clean)?;
        let t = Timed {
            lowering,
            clean,
            plan,
            state,
            best: Duration::MAX,
        };
        Ok((t, out))
    }

    fn run(&mut self, inputs: &TVec<TValue>) -> TractResult<()> {
        let t = Instant::now();
        super::upper::run(&mut self.state, inputs.clone(), self.clean)?;
        self.best = self.best.min(t.elapsed());
        Ok(())
    }
}

/// Timing runs per way, taken in turns so that a slow spell of the machine hits every way.
const ROUNDS: usize = 3;

fn same_answers(a: &TVec<TValue>, b: &TVec<TValue>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(a, b)| a.close_enough(b, Approximation::Approximate).is_ok())
}

/// A lowering must be this much faster than tract's own to replace it: timings on a shared
/// machine wobble by a few percent.
const MARGIN: f64 = 0.95;

/// Optimize `model` with `lowering`; for `Auto` on a model with convolutions, build the plan
/// each way and return the fastest (with its name), `after` applied to each before timing;
/// `clean`: time them as the runner will run them ([`super::upper`]).
pub fn optimize_with(
    model: TypedModel,
    lowering: Lowering,
    clean: bool,
    after: impl Fn(&mut TypedModel) -> TractResult<()>,
) -> TractResult<(Lowering, Arc<TypedSimplePlan>)> {
    let build = |l: Lowering, m: TypedModel| -> TractResult<Arc<TypedSimplePlan>> {
        let mut opt = l.optimize(m)?;
        after(&mut opt)?;
        opt.into_runnable()
    };
    if lowering != Lowering::Auto || !has_conv(&model) {
        let l = if lowering == Lowering::Auto {
            Lowering::Tract
        } else {
            lowering
        };
        return Ok((l, build(l, model)?));
    }
    // A model left with symbolic dimensions cannot be run to time it: tract's rule.
    let Some(inputs) = probe_inputs(&model) else {
        return Ok((Lowering::Tract, build(Lowering::Tract, model)?));
    };
    let (tract, want) = Timed::new(
        Lowering::Tract,
        build(Lowering::Tract, model.clone())?,
        &inputs,
        clean,
    )?;
    let mut ways = vec![tract];
    for l in [Lowering::Eager, Lowering::Lazy] {
        // A way that fails to build or run, or answers otherwise, is not chosen.
        let Ok(plan) = build(l, model.clone()) else {
            continue;
        };
        if let Ok((way, got)) = Timed::new(l, plan, &inputs, clean)
            && same_answers(&got, &want)
        {
            ways.push(way);
        }
    }
    for _ in 0..ROUNDS {
        for way in ways.iter_mut() {
            way.run(&inputs)?;
        }
    }
    // tract's own stands unless another way beats it by the margin.
    let mut ways = ways.into_iter();
    let Some(mut best) = ways.next() else {
        bail!("no way to run the model was timed");
    };
    let mut bar = best.best.as_secs_f64() * MARGIN;
    for way in ways {
        if way.best.as_secs_f64() < bar {
            bar = way.best.as_secs_f64();
            best = way;
        }
    }
    Ok((best.lowering, best.plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_names_parse_and_print_back() {
        for l in [
            Lowering::Auto,
            Lowering::Tract,
            Lowering::Eager,
            Lowering::Lazy,
        ] {
            assert_eq!(l.to_string().parse(), Ok(l));
        }
        let e = "fast".parse::<Lowering>().unwrap_err();
        assert!(e.to_string().contains("auto, tract, eager or lazy"), "{e}");
    }

    #[test]
    fn a_model_with_a_symbolic_input_cannot_be_timed_so_auto_keeps_tracts_rule() {
        let mut m = TypedModel::default();
        let n = m.symbols.sym("N");
        let x = m
            .add_source("x", f32::fact(&[TDim::Sym(n), 4.into()]))
            .unwrap();
        m.select_output_outlets(&[x]).unwrap();
        assert!(probe_inputs(&m).is_none());
        let mut fixed = TypedModel::default();
        let x = fixed.add_source("x", f32::fact([2, 4])).unwrap();
        fixed.select_output_outlets(&[x]).unwrap();
        let inputs = probe_inputs(&fixed).unwrap();
        assert_eq!(inputs[0].shape(), &[2, 4]);
        // Not zeros: a convolution on zeros shows only its bias.
        let v = inputs[0].try_as_plain_ram().unwrap();
        assert!(v.as_slice::<f32>().unwrap().iter().any(|x| *x != 0.0));
    }
}
