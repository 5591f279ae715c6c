//! Building a model's plans: input-fact overrides, the batched plans (one per batch size) or
//! the single plan, the graph rewrites and tract's optimizer. Every failure is a [`ModelError`].

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_hir::infer::Factoid;

use super::TensorSpec;
use super::lowering::Lowering;
use crate::dtype::DType;
use crate::rewrite::Rewrites;

/// What went wrong while loading, building or starting a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read the file: {0}")]
    Read(#[source] std::io::Error),
    #[error("not a model tract can read: {0:#}")]
    Unreadable(TractError),
    /// tract refused a step: typing, decluttering, optimizing, setting a fact.
    #[error("{0:#}")]
    Tract(TractError),
    #[error("rewriting: {0:#}")]
    Rewrite(TractError),
    #[error("--input-shape {spec:?} names input {name:?}, but the model's inputs are {inputs:?}")]
    UnknownInput {
        spec: String,
        name: String,
        inputs: Vec<String>,
    },
    #[error("input {0:?} has no datatype in the model file")]
    NoDatatype(String),
    #[error(
        "input {input:?} declares no shape, not even its rank, so no plan can be built for it: give its shape with --input-shape {input}=DIMS (e.g. N,3,224,224; a letter marks a free dimension)"
    )]
    NeedsShape { input: String },
    #[error(
        "output {0:?}: tract cannot tell its datatype before an input shape is known: give the inputs' shapes with --input-shape"
    )]
    OutputDatatype(String),
    #[error("--warm-shapes {spec:?}: {reason}")]
    WarmShape { spec: String, reason: String },
    #[error("--input-shape {spec:?}: dimension {dim} must be positive")]
    NonPositiveDim { spec: String, dim: i64 },
    #[error("--input-shape {spec:?}: {token:?} is neither a positive integer nor a symbol like N")]
    BadDim { spec: String, token: String },
    #[error("tensor {name:?} has datatype {datum:?}, which this server cannot carry")]
    UnsupportedType { name: String, datum: DatumType },
    #[error("with batch size {size}: {source}")]
    AtBatchSize {
        size: usize,
        source: Box<ModelError>,
    },
    /// Batched plans failed and so did the model as it is.
    #[error("{batched} (and unbatched: {single})")]
    Unbatchable {
        batched: Box<ModelError>,
        single: Box<ModelError>,
    },
    #[error("no batch size to build")]
    NoBatchSize,
    #[error("warm-up run failed: {0:#}")]
    WarmUp(TractError),
    #[error("timing batch sizes: {0:#}")]
    Tuning(TractError),
    #[error("cannot start worker threads: {0}")]
    Workers(#[source] std::io::Error),
}

impl ModelError {
    fn at_batch(size: usize) -> impl FnOnce(ModelError) -> ModelError {
        move |e| ModelError::AtBatchSize {
            size,
            source: Box::new(e),
        }
    }
}
pub(super) fn optimize(
    mut model: TypedModel,
    rewrites: Rewrites,
    lowering: Lowering,
) -> Result<Arc<TypedSimplePlan>, ModelError> {
    let fired =
        crate::rewrite::before_optimizing(&mut model, rewrites).map_err(ModelError::Rewrite)?;
    let (chosen, plan) = super::lowering::optimize_with(model, lowering, rewrites.upper, |m| {
        crate::rewrite::after_optimizing(m, rewrites).map(|after| {
            tracing::debug!(?after, "graph rewrites after optimizing");
        })
    })
    .map_err(ModelError::Tract)?;
    tracing::debug!(
        ?fired,
        lowering = %chosen,
        "graph rewrites before optimizing, convolution lowering"
    );
    Ok(plan)
}

pub(super) fn apply_shape_override(
    model: &mut InferenceModel,
    names: &[String],
    spec: &str,
) -> Result<(), ModelError> {
    let (ix, dims) = match spec.split_once('=') {
        Some((name, dims)) => {
            let ix = names.iter().position(|n| n == name.trim()).ok_or_else(|| {
                ModelError::UnknownInput {
                    spec: spec.to_owned(),
                    name: name.to_owned(),
                    inputs: names.to_vec(),
                }
            })?;
            (ix, dims)
        }
        None => (0, spec),
    };
    let dt = model
        .input_fact(ix)
        .map_err(ModelError::Tract)?
        .datum_type
        .concretize()
        .ok_or_else(|| ModelError::NoDatatype(names[ix].clone()))?;
    let mut shape: TVec<TDim> = tvec!();
    for tok in dims.split(',').map(str::trim) {
        if let Ok(v) = tok.parse::<i64>() {
            if v <= 0 {
                return Err(ModelError::NonPositiveDim {
                    spec: spec.to_owned(),
                    dim: v,
                });
            }
            shape.push(TDim::Val(v));
        } else if !tok.is_empty() && tok.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            shape.push(model.symbols.sym(tok).into());
        } else {
            return Err(ModelError::BadDim {
                spec: spec.to_owned(),
                token: tok.to_owned(),
            });
        }
    }
    model
        .set_input_fact(ix, InferenceFact::dt_shape(dt, shape))
        .map_err(ModelError::Tract)
}

fn specs(
    model: &TypedModel,
    names: &[String],
    inputs: bool,
) -> Result<Vec<TensorSpec>, ModelError> {
    let outlets = if inputs {
        model.input_outlets()
    } else {
        model.output_outlets()
    }
    .map_err(ModelError::Tract)?;
    outlets
        .iter()
        .zip(names)
        .map(|(o, name)| {
            let fact = model.outlet_fact(*o).map_err(ModelError::Tract)?;
            let dtype =
                DType::from_datum(fact.datum_type).ok_or_else(|| ModelError::UnsupportedType {
                    name: name.clone(),
                    datum: fact.datum_type,
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

/// Inputs' and outputs' specs.
pub(super) type Specs = (Vec<TensorSpec>, Vec<TensorSpec>);

/// The specs of a model whose inputs leave more than the batch free, for plans per input
/// shape: `None` when every input's dimensions but the first are fixed (not such a model).
/// Free dimensions are `None`; outputs' as far as tract infers them without input shapes.
pub(super) fn per_shape_specs(
    template: &InferenceModel,
    input_names: &[String],
    output_names: &[String],
) -> Option<Result<Specs, ModelError>> {
    let mut inputs = Vec::new();
    let mut spatial_free = false;
    for (ix, name) in input_names.iter().enumerate() {
        let fact = match template.input_fact(ix) {
            Ok(f) => f,
            Err(e) => return Some(Err(ModelError::Tract(e))),
        };
        if fact.shape.is_open() {
            return Some(Err(ModelError::NeedsShape {
                input: name.clone(),
            }));
        }
        let shape: Vec<Option<usize>> = fact
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect();
        spatial_free |= shape.iter().skip(1).any(Option::is_none);
        let Some(dtype) = fact.datum_type.concretize().and_then(DType::from_datum) else {
            return Some(Err(ModelError::NoDatatype(name.clone())));
        };
        inputs.push(TensorSpec {
            name: name.clone(),
            dtype,
            shape,
        });
    }
    if !spatial_free {
        return None;
    }
    // what tract can say of the outputs without shapes (it goes as far as it can), each free
    // input dimension a symbol of its own so ranks and fixed dimensions flow through
    let mut probe = template.clone();
    for (ix, spec) in inputs.iter().enumerate() {
        let dims: TVec<TDim> = spec
            .shape
            .iter()
            .enumerate()
            .map(|(d, v)| match v {
                Some(v) => TDim::Val(*v as i64),
                None => probe.symbols.sym(&format!("tractor_free_{ix}_{d}")).into(),
            })
            .collect();
        if probe
            .set_input_fact(ix, InferenceFact::dt_shape(spec.dtype.datum(), dims))
            .is_err()
        {
            break;
        }
    }
    let _ = probe.analyse(true);
    let mut outputs = Vec::new();
    for (ix, name) in output_names.iter().enumerate() {
        let fact = match probe.output_fact(ix) {
            Ok(f) => f,
            Err(e) => return Some(Err(ModelError::Tract(e))),
        };
        let Some(dtype) = fact.datum_type.concretize().and_then(DType::from_datum) else {
            return Some(Err(ModelError::OutputDatatype(name.clone())));
        };
        let shape = fact
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect();
        outputs.push(TensorSpec {
            name: name.clone(),
            dtype,
            shape,
        });
    }
    Some(Ok((inputs, outputs)))
}

pub(super) type Built = (
    Vec<TensorSpec>,
    Vec<TensorSpec>,
    Vec<(usize, Arc<TypedSimplePlan>)>,
);

/// The model as it is (free dimensions stay symbolic): one plan, requests run one at a time.
pub(super) fn single_plan(
    model: InferenceModel,
    input_names: &[String],
    output_names: &[String],
    rewrites: Rewrites,
    lowering: Lowering,
) -> Result<Built, ModelError> {
    let typed = model
        .into_typed()
        .and_then(|m| m.into_decluttered())
        .map_err(ModelError::Tract)?;
    let inputs = specs(&typed, input_names, true)?;
    let outputs = specs(&typed, output_names, false)?;
    Ok((
        inputs,
        outputs,
        vec![(0, optimize(typed, rewrites, lowering)?)],
    ))
}

/// When every input has a free first dimension and fixed others, bind that dimension to each
/// batch size in {1, 2, 4, ..., max} and build one plan per size (fixed facts let tract type
/// shape computations and pick kernels). `Ok(None)` when the model does not have that form or
/// its outputs do not carry the batch first.
pub(super) fn batched_plans(
    model: &InferenceModel,
    input_names: &[String],
    output_names: &[String],
    max_batch: usize,
    rewrites: Rewrites,
    lowering: Lowering,
) -> Result<Option<Built>, ModelError> {
    let mut rests = Vec::new();
    for (ix, name) in input_names.iter().enumerate() {
        let fact = model.input_fact(ix).map_err(ModelError::Tract)?;
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
                    .ok_or_else(|| ModelError::NoDatatype(name.clone()))?;
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
                .map_err(ModelError::Tract)?;
        }
        let typed = m
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| ModelError::at_batch(size)(ModelError::Tract(e)))?;
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
            optimize(typed, rewrites, lowering).map_err(ModelError::at_batch(size))?,
        ));
    }
    let (inputs, outputs) = specs_at_1.ok_or(ModelError::NoBatchSize)?;
    Ok(Some((inputs, outputs, plans)))
}
