//! Loading a model with tract: parse, apply input-fact overrides, declutter, decide whether the
//! model can be batched, build optimized plans, warm them up, and run them.
//!
//! A model is *batchable* when every input and output has the same free symbol as its first
//! dimension and every other dimension is fixed. Such a model gets one plan per batch size in
//! {1, 2, 4, ..., max} with the symbol bound to a constant (fixed facts let tract pick the best
//! kernels); a batch of any size runs as a sum of those sizes. Any other model gets one plan
//! and runs one request at a time, or, when tract cannot type it with its free dimensions as
//! symbols (free H and W), one plan per input shape built on first use (`shapes`).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::SimpleState;

use crate::dtype::DType;
use crate::rewrite::Rewrites;
use lowering::Lowering;

mod build;
pub mod inspect;
pub mod lowering;
mod shapes;
pub mod upper;
pub use build::ModelError;
use build::{apply_shape_override, batched_plans, per_shape_specs, single_plan};
pub use shapes::{PlanCacheStats, ShapePlans, ShapeRefused, ShapeSpecError, parse_shapes};

/// Plans kept for models served per input shape, unless `--plan-cache-size` says otherwise.
pub const DEFAULT_PLAN_CACHE: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    /// `None` marks a dimension the model leaves free (the batch, or a symbol).
    pub shape: Vec<Option<usize>>,
}

impl TensorSpec {
    /// Shape in the Open Inference Protocol's convention: -1 for a free dimension.
    pub fn kserve_shape(&self) -> Vec<i64> {
        self.shape
            .iter()
            .map(|d| d.map(|v| v as i64).unwrap_or(-1))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot load model {path}: {source}")]
pub struct LoadError {
    pub path: PathBuf,
    pub source: ModelError,
}

pub struct Model {
    pub path: PathBuf,
    pub sha256: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    /// Plans by batch size, ascending. For a model that is not batchable: one plan, size 0.
    plans: Vec<(usize, Arc<TypedSimplePlan>)>,
    /// A model served per input shape: no plan above, these built on demand.
    pub shapes: Option<Arc<ShapePlans>>,
    /// Runs clear the registers' upper halves before each node ([`upper`]).
    clean: bool,
}

impl Model {
    pub fn load(
        path: &Path,
        input_shapes: &[String],
        max_batch: usize,
    ) -> Result<Model, LoadError> {
        Self::load_with(path, input_shapes, max_batch, Rewrites::ALL, Lowering::Auto)
    }

    /// `rewrites`: which graph rewrites of [`crate::rewrite`] run around the optimizer;
    /// `lowering`: how convolutions are lowered ([`lowering`]).
    pub fn load_with(
        path: &Path,
        input_shapes: &[String],
        max_batch: usize,
        rewrites: Rewrites,
        lowering: Lowering,
    ) -> Result<Model, LoadError> {
        let fail = |source: ModelError| LoadError {
            path: path.to_owned(),
            source,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(ModelError::Read(e)))?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut Cursor::new(&bytes))
            .map_err(|e| fail(ModelError::Unreadable(e)))?;
        // The shapes a file declares for intermediate values (value_info) are in the inputs'
        // symbols (`batch`, `floor(height/2 - 1/2)`): once an input's dimensions are fixed,
        // tract would have to unify `batch` with 1 and fails. Whenever we fix them (the
        // --input-shape overrides, the batch sizes of the batched plans) tract infers those
        // shapes again from the inputs instead; the file's declarations only serve the model
        // left as it is.
        let bindable = || {
            tract_onnx::onnx()
                .with_ignore_value_info(true)
                .model_for_proto_model(&proto)
                .map_err(|e| fail(ModelError::Unreadable(e)))
        };
        let overridden = !input_shapes.is_empty();
        let mut model = if overridden {
            bindable()?
        } else {
            onnx.model_for_proto_model(&proto)
                .map_err(|e| fail(ModelError::Unreadable(e)))?
        };
        let input_names: Vec<String> = model
            .input_outlets()
            .map_err(|e| fail(ModelError::Tract(e)))?
            .iter()
            .map(|o| model.node(o.node).name.clone())
            .collect();
        let output_names: Vec<String> = model
            .output_outlets()
            .map_err(|e| fail(ModelError::Tract(e)))?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .map(str::to_owned)
                    .unwrap_or_else(|| model.node(o.node).name.clone())
            })
            .collect();
        for spec in input_shapes {
            apply_shape_override(&mut model, &input_names, spec).map_err(fail)?;
        }
        let mut batched = batched_plans(
            &model,
            &input_names,
            &output_names,
            max_batch,
            rewrites,
            lowering,
        );
        if batched.is_err() && !overridden {
            // perhaps only the declared intermediate shapes were in the way
            let free = bindable()?;
            if let Ok(Some(b)) = batched_plans(
                &free,
                &input_names,
                &output_names,
                max_batch,
                rewrites,
                lowering,
            ) {
                batched = Ok(Some(b));
            }
        }
        let kept = model.clone();
        let built = match batched {
            Ok(Some(b)) => Ok(b),
            Ok(None) => single_plan(model, &input_names, &output_names, rewrites, lowering),
            // A free batch tract cannot bind: try the model as it is before giving up.
            Err(batched) => single_plan(model, &input_names, &output_names, rewrites, lowering)
                .map_err(|single| ModelError::Unbatchable {
                    batched: Box::new(batched),
                    single: Box::new(single),
                }),
        };
        let (inputs, outputs, plans, shapes) = match built {
            Ok((inputs, outputs, plans)) => (inputs, outputs, plans, None),
            // tract could not type the model with its free dimensions: when those are more
            // than the batch, serve it with a plan per input shape
            Err(e) => {
                let template = if overridden { kept } else { bindable()? };
                match per_shape_specs(&template, &input_names, &output_names) {
                    None => return Err(fail(e)),
                    Some(Err(why)) => return Err(fail(why)),
                    Some(Ok((inputs, outputs))) => {
                        let plans =
                            ShapePlans::new(template, rewrites, lowering, DEFAULT_PLAN_CACHE);
                        (inputs, outputs, vec![], Some(Arc::new(plans)))
                    }
                }
            }
        };
        let m = Model {
            path: path.to_owned(),
            sha256,
            inputs,
            outputs,
            plans,
            shapes,
            clean: rewrites.upper,
        };
        m.warm_up().map_err(|e| fail(ModelError::WarmUp(e)))?;
        Ok(m)
    }

    /// Largest batch one plan runs; 0 when the model is not batchable.
    pub fn max_plan_batch(&self) -> usize {
        self.plans.last().map(|p| p.0).unwrap_or(0)
    }

    pub fn batchable(&self) -> bool {
        self.max_plan_batch() > 0
    }

    pub fn runner(&self) -> TractResult<Runner> {
        let states = self
            .plans
            .iter()
            .map(|(s, p)| Ok((*s, SimpleState::new(p)?)))
            .collect::<TractResult<_>>()?;
        Ok(Runner {
            states,
            shapes: self.shapes.clone(),
            clean: self.clean,
        })
    }

    /// For a model served per input shape: build (and run once) the plans of these shapes
    /// (`--warm-shapes`, each `[NAME=]DIMS`, several inputs space-separated) before the server
    /// is ready. Nothing to do for other models.
    pub fn warm_shapes(&self, specs: &[String]) -> Result<(), ModelError> {
        let Some(plans) = &self.shapes else {
            return Ok(());
        };
        let names: Vec<String> = self.inputs.iter().map(|i| i.name.clone()).collect();
        for spec in specs {
            let bad = |reason: String| ModelError::WarmShape {
                spec: spec.clone(),
                reason,
            };
            let shapes = parse_shapes(spec, &names).map_err(|e| bad(e.to_string()))?;
            for (shape, input) in shapes.iter().zip(&self.inputs) {
                let fits = shape.len() == input.shape.len()
                    && shape
                        .iter()
                        .zip(&input.shape)
                        .all(|(g, w)| w.is_none_or(|w| w == *g));
                if !fits {
                    return Err(bad(format!(
                        "{shape:?} does not fit input {:?} of shape {:?} (-1 is free)",
                        input.name,
                        input.kserve_shape()
                    )));
                }
            }
            let plan = plans.plan_for(&shapes).map_err(|e| bad(format!("{e:#}")))?;
            let zeros: TVec<TValue> = shapes
                .iter()
                .zip(&self.inputs)
                .map(|(s, i)| Tensor::zero_dt(i.dtype.datum(), s).map(|t| t.into_tvalue()))
                .collect::<TractResult<_>>()
                .map_err(|e| bad(format!("{e:#}")))?;
            plan.run(zeros).map_err(|e| bad(format!("{e:#}")))?;
        }
        Ok(())
    }

    fn zero_inputs(&self, rows: usize) -> TractResult<Vec<Tensor>> {
        self.inputs
            .iter()
            .map(|i| {
                let mut shape: Vec<usize> = i.shape.iter().map(|d| d.unwrap_or(1)).collect();
                if self.batchable() {
                    shape[0] = rows;
                }
                Tensor::zero_dt(i.dtype.datum(), &shape)
            })
            .collect()
    }

    fn warm_up(&self) -> TractResult<()> {
        if self.shapes.is_some() {
            // no shape known yet: --warm-shapes builds and runs the expected ones
            return Ok(());
        }
        let inputs = self.zero_inputs(self.max_plan_batch().max(1))?;
        self.runner()?.run(inputs)?;
        Ok(())
    }

    /// The largest batch plan with its batch size (none for a model served per input shape).
    fn largest_plan(&self) -> TractResult<&(usize, Arc<TypedSimplePlan>)> {
        self.plans.last().ok_or_else(|| TractError::msg("no plan"))
    }

    /// Nodes of the largest plan that compute from constants alone (see [`inspect::constant_work`]).
    pub fn constant_work(&self) -> TractResult<Vec<String>> {
        Ok(inspect::constant_work(self.largest_plan()?.1.model()))
    }

    /// Time per node (op name, node name and output shape), summed over `runs` runs of the largest plan, most
    /// expensive first: for finding where a model's time goes (`raw_timing --profile`).
    pub fn profile_ops(&self, runs: usize) -> TractResult<Vec<(String, f64)>> {
        let (size, plan) = self.largest_plan()?;
        let inputs: TVec<TValue> = self
            .zero_inputs((*size).max(1))?
            .into_iter()
            .map(|t| t.into_tvalue())
            .collect();
        let mut state = SimpleState::new(plan)?;
        let mut times: std::collections::HashMap<String, f64> = Default::default();
        for _ in 0..runs {
            state.run_plan_with_eval(inputs.clone(), |ctx, op_state, node, input| {
                let shape = node
                    .outputs
                    .first()
                    .map(|o| format!("{:?}", o.fact.shape))
                    .unwrap_or_default();
                if self.clean {
                    upper::clear();
                }
                let t = std::time::Instant::now();
                let r = tract_onnx::tract_core::plan::eval(ctx, op_state, node, input);
                *times
                    .entry(format!("{} {} {shape}", node.op().name(), node.name))
                    .or_default() += t.elapsed().as_secs_f64() * 1e3;
                r
            })?;
        }
        let mut v: Vec<(String, f64)> = times
            .into_iter()
            .map(|(k, ms)| (k, ms / runs as f64))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(v)
    }

    /// Time each batch size and keep only those that lower the cost per row: batching pays for
    /// matrix-product-heavy models but can cost more per row for convolutions in tract. Sizes
    /// are tried in ascending order; the first one that is not at least 5 % cheaper per row than
    /// the best so far ends the search. Returns (size, median ms per batch, kept) for each
    /// size tried.
    pub fn tune_batch_sizes(&mut self) -> TractResult<Vec<(usize, f64, bool)>> {
        if self.plans.len() < 2 {
            return Ok(vec![]);
        }
        let mut report = Vec::new();
        let mut best_per_row = f64::INFINITY;
        let mut keep = 0;
        for (ix, (size, plan)) in self.plans.iter().enumerate() {
            let mut state = SimpleState::new(plan)?;
            let inputs: TVec<TValue> = self
                .zero_inputs(*size)?
                .into_iter()
                .map(|t| t.into_tvalue())
                .collect();
            upper::run(&mut state, inputs.clone(), self.clean)?;
            let mut times = Vec::new();
            let budget = std::time::Instant::now();
            while times.len() < 5 && (times.len() < 2 || budget.elapsed().as_secs_f64() < 2.0) {
                let t = std::time::Instant::now();
                upper::run(&mut state, inputs.clone(), self.clean)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            let ms = times[times.len() / 2];
            let per_row = ms / *size as f64;
            let better = per_row < best_per_row * 0.95;
            report.push((*size, ms, better));
            if !better {
                break;
            }
            best_per_row = per_row;
            keep = ix + 1;
        }
        self.plans.truncate(keep.max(1));
        Ok(report)
    }
}

/// One worker's execution state: reusable scratch for every plan.
pub struct Runner {
    states: Vec<(usize, TypedSimpleState)>,
    shapes: Option<Arc<ShapePlans>>,
    clean: bool,
}

impl Runner {
    /// Run inputs whose first axis is the batch (for a batchable model) or as they are.
    pub fn run(&mut self, inputs: Vec<Tensor>) -> TractResult<Vec<Tensor>> {
        if let Some(plans) = &self.shapes {
            let key: Vec<Vec<usize>> = inputs.iter().map(|t| t.shape().to_vec()).collect();
            let plan = plans.plan_for(&key)?;
            let inputs = inputs.into_iter().map(|t| t.into_tvalue()).collect();
            let out = upper::run_plan(&plan, inputs, self.clean)?;
            return Ok(out.into_iter().map(|v| v.into_tensor()).collect());
        }
        if self.states.len() == 1 && self.states[0].0 == 0 {
            let inputs = inputs.into_iter().map(|t| t.into_tvalue()).collect();
            let out = upper::run(&mut self.states[0].1, inputs, self.clean)?;
            return Ok(out.into_iter().map(|v| v.into_tensor()).collect());
        }
        let rows = inputs.first().map(|t| t.shape()[0]).unwrap_or(0);
        // The usual case: one plan fits the batch exactly, so the inputs move in whole.
        if let Some(exact) = self.states.iter_mut().find(|(s, _)| *s == rows) {
            let inputs = inputs.into_iter().map(|t| t.into_tvalue()).collect();
            let out = upper::run(&mut exact.1, inputs, self.clean)?;
            return Ok(out.into_iter().map(|v| v.into_tensor()).collect());
        }
        let mut chunks: Vec<Vec<Tensor>> = Vec::new();
        let mut start = 0;
        while start < rows {
            let left = rows - start;
            let ix = self
                .states
                .iter()
                .rposition(|(s, _)| *s <= left)
                .unwrap_or(0);
            let size = self.states[ix].0;
            let chunk: TVec<TValue> = inputs
                .iter()
                .map(|t| t.slice(0, start, start + size).map(|t| t.into_tvalue()))
                .collect::<TractResult<_>>()?;
            let out = upper::run(&mut self.states[ix].1, chunk, self.clean)?;
            chunks.push(out.into_iter().map(|v| v.into_tensor()).collect());
            start += size;
        }
        if chunks.len() == 1 {
            return Ok(chunks.pop().unwrap_or_default());
        }
        let outputs = chunks[0].len();
        (0..outputs)
            .map(|o| Tensor::stack_tensors(0, &chunks.iter().map(|c| &c[o]).collect::<Vec<_>>()))
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
