//! Loading a model with tract: parse, apply input-fact overrides, declutter, decide whether the
//! model can be batched, build optimized plans, warm them up, and run them.
//!
//! A model is *batchable* when every input and output has the same free symbol as its first
//! dimension and every other dimension is fixed. Such a model gets one plan per batch size in
//! {1, 2, 4, ..., max} with the symbol bound to a constant (fixed facts let tract pick the best
//! kernels); a batch of any size runs as a sum of those sizes. Any other model gets one plan
//! and runs one request at a time.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::plan::SimpleState;
use tract_onnx::tract_hir::infer::Factoid;

use crate::dtype::DType;

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
#[error("cannot load model {path}: {message}")]
pub struct LoadError {
    pub path: PathBuf,
    pub message: String,
}

pub struct Model {
    pub path: PathBuf,
    pub sha256: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    /// Plans by batch size, ascending. For a model that is not batchable: one plan, size 0.
    plans: Vec<(usize, Arc<TypedSimplePlan>)>,
}

impl Model {
    pub fn load(
        path: &Path,
        input_shapes: &[String],
        max_batch: usize,
    ) -> Result<Model, LoadError> {
        Self::load_with(path, input_shapes, max_batch, true)
    }

    /// `rewrites`: apply the graph rewrites of [`crate::rewrite`] before optimizing.
    pub fn load_with(
        path: &Path,
        input_shapes: &[String],
        max_batch: usize,
        rewrites: bool,
    ) -> Result<Model, LoadError> {
        let fail = |message: String| LoadError {
            path: path.to_owned(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        let sha256 = hex(&Sha256::digest(&bytes));
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut Cursor::new(&bytes))
            .map_err(|e| fail(format!("not a model tract can read: {e:#}")))?;
        let input_names: Vec<String> = model
            .input_outlets()
            .map_err(|e| fail(format!("{e:#}")))?
            .iter()
            .map(|o| model.node(o.node).name.clone())
            .collect();
        let output_names: Vec<String> = model
            .output_outlets()
            .map_err(|e| fail(format!("{e:#}")))?
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
        let (inputs, outputs, plans) =
            match batched_plans(&model, &input_names, &output_names, max_batch, rewrites) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    single_plan(model, &input_names, &output_names, rewrites).map_err(fail)?
                }
                // A free batch tract cannot bind: try the model as it is before giving up.
                Err(batched) => single_plan(model, &input_names, &output_names, rewrites)
                    .map_err(|single| fail(format!("{batched} (and unbatched: {single})")))?,
            };
        let m = Model {
            path: path.to_owned(),
            sha256,
            inputs,
            outputs,
            plans,
        };
        m.warm_up()
            .map_err(|e| fail(format!("warm-up run failed: {e:#}")))?;
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
        Ok(Runner { states })
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
        let inputs = self.zero_inputs(self.max_plan_batch().max(1))?;
        self.runner()?.run(inputs)?;
        Ok(())
    }

    /// Time per node (op name and node name), summed over `runs` runs of the largest plan, most
    /// expensive first: for finding where a model's time goes (`raw_timing --profile`).
    pub fn profile_ops(&self, runs: usize) -> TractResult<Vec<(String, f64)>> {
        let (size, plan) = self
            .plans
            .last()
            .ok_or_else(|| TractError::msg("no plan"))?;
        let inputs: TVec<TValue> = self
            .zero_inputs((*size).max(1))?
            .into_iter()
            .map(|t| t.into_tvalue())
            .collect();
        let mut state = SimpleState::new(plan)?;
        let mut times: std::collections::HashMap<String, f64> = Default::default();
        for _ in 0..runs {
            state.run_plan_with_eval(inputs.clone(), |ctx, op_state, node, input| {
                let t = std::time::Instant::now();
                let r = tract_onnx::tract_core::plan::eval(ctx, op_state, node, input);
                *times
                    .entry(format!("{} {}", node.op().name(), node.name))
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
            state.run(inputs.clone())?;
            let mut times = Vec::new();
            let budget = std::time::Instant::now();
            while times.len() < 5 && (times.len() < 2 || budget.elapsed().as_secs_f64() < 2.0) {
                let t = std::time::Instant::now();
                state.run(inputs.clone())?;
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
}

impl Runner {
    /// Run inputs whose first axis is the batch (for a batchable model) or as they are.
    pub fn run(&mut self, inputs: Vec<Tensor>) -> TractResult<Vec<Tensor>> {
        if self.states.len() == 1 && self.states[0].0 == 0 {
            let out = self.states[0]
                .1
                .run(inputs.into_iter().map(|t| t.into_tvalue()).collect())?;
            return Ok(out.into_iter().map(|v| v.into_tensor()).collect());
        }
        let rows = inputs.first().map(|t| t.shape()[0]).unwrap_or(0);
        // The usual case: one plan fits the batch exactly, so the inputs move in whole.
        if let Some(exact) = self.states.iter_mut().find(|(s, _)| *s == rows) {
            let out = exact
                .1
                .run(inputs.into_iter().map(|t| t.into_tvalue()).collect())?;
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
            let out = self.states[ix].1.run(chunk)?;
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

fn optimize(mut model: TypedModel, rewrites: bool) -> Result<Arc<TypedSimplePlan>, String> {
    if rewrites {
        let n = crate::rewrite::one_hot_matmul_to_lookup(&mut model)
            .map_err(|e| format!("rewriting: {e:#}"))?;
        if n > 0 {
            tracing::debug!(n, "one-hot matrix products replaced by row lookups");
        }
    }
    model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| format!("{e:#}"))
}

fn apply_shape_override(
    model: &mut InferenceModel,
    names: &[String],
    spec: &str,
) -> Result<(), String> {
    let (ix, dims) = match spec.split_once('=') {
        Some((name, dims)) => {
            let ix = names.iter().position(|n| n == name.trim()).ok_or_else(|| {
                format!("--input-shape {spec:?} names input {name:?}, but the model's inputs are {names:?}")
            })?;
            (ix, dims)
        }
        None => (0, spec),
    };
    let dt = model
        .input_fact(ix)
        .map_err(|e| format!("{e:#}"))?
        .datum_type
        .concretize()
        .ok_or_else(|| format!("input {:?} has no datatype in the model file", names[ix]))?;
    let mut shape: TVec<TDim> = tvec!();
    for tok in dims.split(',').map(str::trim) {
        if let Ok(v) = tok.parse::<i64>() {
            if v <= 0 {
                return Err(format!(
                    "--input-shape {spec:?}: dimension {v} must be positive"
                ));
            }
            shape.push(TDim::Val(v));
        } else if !tok.is_empty() && tok.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            shape.push(model.symbols.sym(tok).into());
        } else {
            return Err(format!(
                "--input-shape {spec:?}: {tok:?} is neither a positive integer nor a symbol like N"
            ));
        }
    }
    model
        .set_input_fact(ix, InferenceFact::dt_shape(dt, shape))
        .map_err(|e| format!("{e:#}"))
}

fn specs(model: &TypedModel, names: &[String], inputs: bool) -> Result<Vec<TensorSpec>, String> {
    let outlets = if inputs {
        model.input_outlets()
    } else {
        model.output_outlets()
    }
    .map_err(|e| format!("{e:#}"))?;
    outlets
        .iter()
        .zip(names)
        .map(|(o, name)| {
            let fact = model.outlet_fact(*o).map_err(|e| format!("{e:#}"))?;
            let dtype = DType::from_datum(fact.datum_type).ok_or_else(|| {
                format!(
                    "tensor {name:?} has datatype {:?}, which this server cannot carry",
                    fact.datum_type
                )
            })?;
            let shape = fact.shape.iter().map(|d| d.to_usize().ok()).collect();
            Ok(TensorSpec {
                name: name.clone(),
                dtype,
                shape,
            })
        })
        .collect()
}

type Built = (
    Vec<TensorSpec>,
    Vec<TensorSpec>,
    Vec<(usize, Arc<TypedSimplePlan>)>,
);

/// The model as it is (free dimensions stay symbolic): one plan, requests run one at a time.
fn single_plan(
    model: InferenceModel,
    input_names: &[String],
    output_names: &[String],
    rewrites: bool,
) -> Result<Built, String> {
    let typed = model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(|e| format!("{e:#}"))?;
    let inputs = specs(&typed, input_names, true)?;
    let outputs = specs(&typed, output_names, false)?;
    Ok((inputs, outputs, vec![(0, optimize(typed, rewrites)?)]))
}

/// When every input has a free first dimension and fixed others, bind that dimension to each
/// batch size in {1, 2, 4, ..., max} and build one plan per size (fixed facts let tract type
/// shape computations and pick kernels). `Ok(None)` when the model does not have that form or
/// its outputs do not carry the batch first.
fn batched_plans(
    model: &InferenceModel,
    input_names: &[String],
    output_names: &[String],
    max_batch: usize,
    rewrites: bool,
) -> Result<Option<Built>, String> {
    let mut rests = Vec::new();
    for (ix, name) in input_names.iter().enumerate() {
        let fact = model.input_fact(ix).map_err(|e| format!("{e:#}"))?;
        if fact.shape.is_open() {
            return Ok(None);
        }
        let dims: Vec<Option<usize>> = fact
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect();
        match dims.split_first() {
            Some((None, rest)) if rest.iter().all(Option::is_some) => {
                let dt = fact
                    .datum_type
                    .concretize()
                    .ok_or_else(|| format!("input {name:?} has no datatype"))?;
                rests.push((dt, rest.iter().flatten().copied().collect::<Vec<usize>>()));
            }
            _ => return Ok(None),
        }
    }
    if rests.is_empty() {
        return Ok(None);
    }
    let mut sizes: Vec<usize> = (0..)
        .map(|p| 1usize << p)
        .take_while(|s| *s <= max_batch.max(1))
        .collect();
    if max_batch > 1 && !sizes.contains(&max_batch) {
        sizes.push(max_batch);
    }
    let mut plans = Vec::new();
    let mut specs_at_1 = None;
    for size in sizes {
        let mut m = model.clone();
        for (ix, (dt, rest)) in rests.iter().enumerate() {
            let shape: TVec<TDim> = std::iter::once(size)
                .chain(rest.iter().copied())
                .map(|d| TDim::Val(d as i64))
                .collect();
            m.set_input_fact(ix, InferenceFact::dt_shape(*dt, shape))
                .map_err(|e| format!("{e:#}"))?;
        }
        let typed = m
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| format!("with batch size {size}: {e:#}"))?;
        let outputs = specs(&typed, output_names, false)?;
        if !outputs
            .iter()
            .all(|o| o.shape.first() == Some(&Some(size)) && o.shape.iter().all(Option::is_some))
        {
            return Ok(None);
        }
        if specs_at_1.is_none() {
            let free_first = |mut v: Vec<TensorSpec>| {
                v.iter_mut().for_each(|s| s.shape[0] = None);
                v
            };
            specs_at_1 = Some((
                free_first(specs(&typed, input_names, true)?),
                free_first(outputs),
            ));
        }
        plans.push((
            size,
            optimize(typed, rewrites).map_err(|e| format!("with batch size {size}: {e}"))?,
        ));
    }
    let (inputs, outputs) = specs_at_1.ok_or("no batch size to build")?;
    Ok(Some((inputs, outputs, plans)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
