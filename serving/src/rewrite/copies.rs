//! `copies`: the padding and striding that tract's convolution lowering adds around its
//! matrix products, done as copies of whole rows.
//!
//! tract pads a convolution's input with `Pad` (an ndarray slice assignment) and takes a strided
//! 1×1 convolution's input with one `Downsample` per axis (an ndarray strided slice made owned,
//! then a second one). In ResNet-50 these are 56 pads (up to 0.7 ms for one 128×58×58) and six
//! downsamples (2.3 ms together), a few per cent of its inference. Here an f32 [`PadRows`] copies
//! each input row once between its margins, and chained downsamples become one [`Subsample`]
//! that reads only the rows it keeps. Both are exact copies: answers are bit for bit the same.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::Downsample;
use tract_onnx::tract_core::ops::array::{Pad, PadMode};

/// Visit every row (every index of the axes before the last) in C order.
fn rows(outer: &[usize], mut f: impl FnMut(usize, &[usize])) {
    if outer.contains(&0) {
        return;
    }
    let mut at = vec![0usize; outer.len()];
    let count: usize = outer.iter().product();
    for r in 0..count {
        f(r, &at);
        for k in (0..at.len()).rev() {
            at[k] += 1;
            if at[k] < outer[k] {
                break;
            }
            at[k] = 0;
        }
    }
}

/// A constant `Pad` of an f32 tensor, row by row.
#[derive(Debug, Clone)]
pub struct PadRows {
    pub pads: Vec<(usize, usize)>,
    pub value: f32,
}

/// Equal when they write the same bits (-0.0 is not 0.0, a NaN is itself).
impl PartialEq for PadRows {
    fn eq(&self, other: &PadRows) -> bool {
        self.pads == other.pads && self.value.to_bits() == other.value.to_bits()
    }
}

impl Eq for PadRows {}

impl std::hash::Hash for PadRows {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.pads.hash(state);
        self.value.to_bits().hash(state);
    }
}

/// Pad `xs` (shape `shape`, C order) by `pads` with `value` into `out` (the padded shape).
pub fn pad_rows(xs: &[f32], shape: &[usize], pads: &[(usize, usize)], value: f32, out: &mut [f32]) {
    let Some((&len, outer_in)) = shape.split_last() else {
        if let (Some(o), Some(x)) = (out.first_mut(), xs.first()) {
            *o = *x;
        }
        return;
    };
    let padded: Vec<usize> = shape
        .iter()
        .zip(pads)
        .map(|(d, (a, b))| d + a + b)
        .collect();
    let (&out_len, outer_out) = padded.split_last().unwrap_or((&0, &[]));
    let (before, _) = pads[pads.len() - 1];
    let in_strides = natural_strides(outer_in);
    rows(outer_out, |r, at| {
        let row = &mut out[r * out_len..(r + 1) * out_len];
        let mut from = 0;
        for (k, &i) in at.iter().enumerate() {
            let (a, _) = pads[k];
            if i < a || i >= a + outer_in[k] {
                row.fill(value);
                return;
            }
            from += (i - a) * in_strides[k] as usize;
        }
        row[..before].fill(value);
        row[before..before + len].copy_from_slice(&xs[from * len..(from + 1) * len]);
        row[before + len..].fill(value);
    });
}

impl Op for PadRows {
    fn name(&self) -> StaticName {
        "PadRows".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("pads: {:?} value: {}", self.pads, self.value)])
    }
    op_as_typed_op!();
}

impl EvalOp for PadRows {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let view = input.try_as_plain_ram()?;
        let xs = view.as_slice::<f32>()?;
        ensure!(self.pads.len() == input.rank(), "PadRows: rank changed");
        let shape: Vec<usize> = input
            .shape()
            .iter()
            .zip(&self.pads)
            .map(|(d, (a, b))| d + a + b)
            .collect();
        written(&shape, |out| {
            pad_rows(xs, input.shape(), &self.pads, self.value, out)
        })
    }
}

impl TypedOp for PadRows {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            self.pads.len() == inputs[0].rank(),
            "PadRows: {} margins for rank {}",
            self.pads.len(),
            inputs[0].rank()
        );
        let shape: TVec<TDim> = inputs[0]
            .shape
            .iter()
            .zip(&self.pads)
            .map(|(d, (a, b))| d.clone() + *a + *b)
            .collect();
        Ok(tvec!(f32::fact(shape)))
    }
}

/// One axis of a [`Subsample`]: keep indices `modulo`, `modulo + stride`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    pub axis: usize,
    pub stride: usize,
    pub modulo: usize,
}

/// How many indices of an axis of `dim` a step of `stride` from `modulo` keeps.
fn kept(dim: usize, stride: usize, modulo: usize) -> usize {
    if modulo >= dim {
        0
    } else {
        (dim - modulo).div_ceil(stride)
    }
}

/// A new f32 tensor of `shape`, written by `fill` (which writes every element).
fn written(shape: &[usize], fill: impl FnOnce(&mut [f32])) -> TractResult<TVec<TValue>> {
    let mut out = Tensor::zero::<f32>(shape)?;
    fill(out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
    Ok(tvec!(out.into_tvalue()))
}

/// Forward `Downsample`s of an f32 tensor over distinct axes, as one copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subsample {
    pub steps: Vec<Step>,
}

impl Subsample {
    /// (stride, modulo) of every axis of a rank-`rank` tensor (1, 0 where none is taken).
    fn per_axis(&self, rank: usize) -> TractResult<Vec<(usize, usize)>> {
        let mut v = vec![(1, 0); rank];
        for s in &self.steps {
            ensure!(
                s.axis < rank && s.stride > 0,
                "Subsample: {s:?} of rank {rank}"
            );
            v[s.axis] = (s.stride, s.modulo);
        }
        Ok(v)
    }
}

/// Take every `stride`-th index from `modulo` on each axis of `xs` (shape `shape`) into `out`.
pub fn subsample(xs: &[f32], shape: &[usize], steps: &[(usize, usize)], out: &mut [f32]) {
    let Some((&len, outer_in)) = shape.split_last() else {
        if let (Some(o), Some(x)) = (out.first_mut(), xs.first()) {
            *o = *x;
        }
        return;
    };
    let axis = |k: usize| kept(shape[k], steps[k].0, steps[k].1);
    let outer_out: Vec<usize> = (0..outer_in.len()).map(axis).collect();
    let out_len = axis(shape.len() - 1);
    let in_strides = natural_strides(outer_in);
    let (stride, modulo) = steps[steps.len() - 1];
    rows(&outer_out, |r, at| {
        let from: usize = at
            .iter()
            .enumerate()
            .map(|(k, &i)| (steps[k].1 + i * steps[k].0) * in_strides[k] as usize)
            .sum();
        let src = &xs[from * len..(from + 1) * len];
        let dst = &mut out[r * out_len..(r + 1) * out_len];
        if stride == 1 {
            dst.copy_from_slice(&src[modulo..modulo + out_len]);
        } else {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = src[modulo + j * stride];
            }
        }
    });
}

impl Op for Subsample {
    fn name(&self) -> StaticName {
        "Subsample".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("steps: {:?}", self.steps)])
    }
    op_as_typed_op!();
}

impl EvalOp for Subsample {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let view = input.try_as_plain_ram()?;
        let xs = view.as_slice::<f32>()?;
        let steps = self.per_axis(input.rank())?;
        let shape: Vec<usize> = input
            .shape()
            .iter()
            .zip(&steps)
            .map(|(&d, &(stride, modulo))| kept(d, stride, modulo))
            .collect();
        written(&shape, |out| subsample(xs, input.shape(), &steps, out))
    }
}

impl TypedOp for Subsample {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        for s in &self.steps {
            ensure!(
                s.axis < shape.len() && s.stride > 0,
                "Subsample: {s:?} of rank {}",
                shape.len()
            );
            let d = shape[s.axis].clone();
            shape[s.axis] = (d - s.modulo).div_ceil(s.stride as u64);
        }
        Ok(tvec!(f32::fact(shape)))
    }
}

/// Whether `outlet` holds a plain f32 tensor of known shape.
fn plain_f32(model: &TypedModel, outlet: OutletId) -> TractResult<bool> {
    let fact = model.outlet_fact(outlet)?;
    Ok(fact.datum_type == f32::datum_type()
        && fact.is_plain()
        && fact.shape.as_concrete().is_some())
}

/// Replace f32 constant `Pad`s by [`PadRows`] and forward `Downsample`s by [`Subsample`]s, a
/// chain of them over distinct axes by one. Runs on the optimized model. Returns how many
/// tract ops were replaced.
pub fn row_copies(model: &mut TypedModel) -> TractResult<usize> {
    let mut found: Vec<(usize, Box<dyn TypedOp>)> = Vec::new();
    for node in model.nodes() {
        if node.inputs.len() != 1 || !plain_f32(model, node.inputs[0])? {
            continue;
        }
        if let Some(pad) = node.op_as::<Pad>()
            && let PadMode::Constant(value) = &pad.mode
            && let Ok(value) = value.cast_to_scalar::<f32>()
        {
            found.push((
                node.id,
                Box::new(PadRows {
                    pads: pad.pads.clone(),
                    value,
                }),
            ));
        } else if let Some(d) = node.op_as::<Downsample>()
            && d.stride > 0
            && model.outlet_fact(node.inputs[0])?.shape[d.axis]
                .as_i64()
                .is_some_and(|n| (d.modulo as i64) < n)
        {
            found.push((
                node.id,
                Box::new(Subsample {
                    steps: vec![Step {
                        axis: d.axis,
                        stride: d.stride as usize,
                        modulo: d.modulo,
                    }],
                }),
            ));
        }
    }
    let replaced = super::replace_all(model, found)?;
    // a subsample whose only reader is a subsample over other axes: one copy
    while let Some((first, second, merged)) = chained(model) {
        let input = model.node(first).inputs[0];
        super::stand_in(model, input, second, "subsample", merged)?;
    }
    Ok(replaced)
}

/// Two chained [`Subsample`]s that can be one: (first, second, the merged op).
fn chained(model: &TypedModel) -> Option<(usize, usize, Subsample)> {
    let outputs = model.output_outlets().ok()?;
    model.nodes().iter().find_map(|second| {
        let b = second.op_as::<Subsample>()?;
        let first = model.node(second.inputs.first()?.node);
        let a = first.op_as::<Subsample>()?;
        let alone = first.outputs.len() == 1
            && first.outputs[0].successors.len() == 1
            && !outputs.contains(&OutletId::new(first.id, 0));
        let distinct = b
            .steps
            .iter()
            .all(|s| a.steps.iter().all(|t| t.axis != s.axis));
        (alone && distinct).then(|| {
            let mut steps = a.steps.clone();
            steps.extend(b.steps.iter().copied());
            steps.sort_by_key(|s| s.axis);
            (first.id, second.id, Subsample { steps })
        })
    })
}

#[cfg(test)]
#[path = "copies/tests.rs"]
mod tests;
