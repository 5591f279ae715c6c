//! `reductions`: tract's `Reduce` over one axis (or adjacent axes) of an f32 tensor, for sum,
//! mean of squares, max and min, becomes [`AxisReduce`], which walks the input once in memory
//! order.
//!
//! tract reduces a middle or last axis one output element at a time: a strided walk over the
//! reduced axis per output (sum) or an ndarray slice built per output (max). magika's layer norm
//! sums over the middle axis of [1, 512, 256] and its global max pool reduces 512 rows of 508;
//! those three reductions cost more than a tenth of its inference. Here the input is seen as
//! [outer, n, inner]: with `inner > 1` each of the n rows is folded into an `inner`-wide
//! accumulator row (contiguous, vectorized), with `inner == 1` each run of n is folded with
//! several independent accumulators.
//!
//! Sums are added in a different order than tract's, so they differ in the last bits; max and
//! min are exact. NaN: max and min skip NaN unless every element is NaN (IEEE maxNum), as
//! tract's SIMD path does.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

/// What [`AxisReduce`] computes along its axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fold {
    Sum,
    MeanOfSquares,
    Max,
    Min,
}

impl Fold {
    fn of(reducer: &Reducer) -> Option<Fold> {
        match reducer {
            Reducer::Sum => Some(Fold::Sum),
            Reducer::MeanOfSquares => Some(Fold::MeanOfSquares),
            Reducer::Max => Some(Fold::Max),
            Reducer::Min => Some(Fold::Min),
            _ => None,
        }
    }

    fn start(self, x: f32) -> f32 {
        match self {
            Fold::MeanOfSquares => x * x,
            _ => x,
        }
    }

    #[inline(always)]
    fn step(self, acc: f32, x: f32) -> f32 {
        match self {
            Fold::Sum => acc + x,
            Fold::MeanOfSquares => acc + x * x,
            Fold::Max => acc.max(x),
            Fold::Min => acc.min(x),
        }
    }

    fn finish(self, acc: f32, n: usize) -> f32 {
        match self {
            Fold::MeanOfSquares => acc / n as f32,
            _ => acc,
        }
    }
}

/// A reduction of the adjacent axes `first..=last` of an f32 tensor (a global pool's H and W);
/// they are kept with size 1, as `Reduce` does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AxisReduce {
    pub first: usize,
    pub last: usize,
    pub fold: Fold,
}

impl Op for AxisReduce {
    fn name(&self) -> StaticName {
        format!("AxisReduce<{:?}>", self.fold).into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("axes: {}..={}", self.first, self.last)])
    }
    op_as_typed_op!();
}

/// Lanes folded side by side over a contiguous run; partial results are combined at the end.
const LANES: usize = 16;

/// Fold `xs[k * stride + i]` over k into `out[i]` for i in 0..stride (rows of one outer block).
fn fold_rows(fold: Fold, xs: &[f32], n: usize, out: &mut [f32]) {
    let inner = out.len();
    for (o, x) in out.iter_mut().zip(&xs[..inner]) {
        *o = fold.start(*x);
    }
    for row in xs[inner..n * inner].chunks_exact(inner) {
        match fold {
            Fold::Sum => out.iter_mut().zip(row).for_each(|(o, x)| *o += *x),
            Fold::MeanOfSquares => out.iter_mut().zip(row).for_each(|(o, x)| *o += *x * *x),
            Fold::Max => out.iter_mut().zip(row).for_each(|(o, x)| *o = o.max(*x)),
            Fold::Min => out.iter_mut().zip(row).for_each(|(o, x)| *o = o.min(*x)),
        }
    }
    for o in out.iter_mut() {
        *o = fold.finish(*o, n);
    }
}

/// Fold one contiguous run.
fn fold_run(fold: Fold, xs: &[f32]) -> f32 {
    let mut chunks = xs.chunks_exact(LANES);
    let mut acc = [0f32; LANES];
    match chunks.next() {
        Some(first) => {
            for (a, x) in acc.iter_mut().zip(first) {
                *a = fold.start(*x);
            }
        }
        None => {
            let mut it = xs.iter();
            let Some(first) = it.next() else {
                return f32::NAN;
            };
            let r = it.fold(fold.start(*first), |a, x| fold.step(a, *x));
            return fold.finish(r, xs.len());
        }
    }
    for c in chunks.by_ref() {
        for (a, x) in acc.iter_mut().zip(c) {
            *a = fold.step(*a, *x);
        }
    }
    let lanes = acc[1..].iter().fold(acc[0], |r, a| fold.combine(r, *a));
    let r = chunks
        .remainder()
        .iter()
        .fold(lanes, |a, x| fold.step(a, *x));
    fold.finish(r, xs.len())
}

impl Fold {
    fn combine(self, a: f32, b: f32) -> f32 {
        match self {
            Fold::Sum | Fold::MeanOfSquares => a + b,
            Fold::Max => a.max(b),
            Fold::Min => a.min(b),
        }
    }
}

/// Reduce `xs` (shape `shape`, C order) over `axis`.
pub fn reduce_axis(fold: Fold, xs: &[f32], shape: &[usize], axis: usize) -> Vec<f32> {
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = vec![0f32; outer * inner];
    if n == 0 || inner == 0 {
        let empty = match fold {
            Fold::Sum => 0.0,
            Fold::MeanOfSquares => f32::NAN,
            Fold::Max => f32::MIN,
            Fold::Min => f32::MAX,
        };
        out.iter_mut().for_each(|o| *o = empty);
        return out;
    }
    for (o, block) in out.chunks_exact_mut(inner).zip(xs.chunks_exact(n * inner)) {
        if inner == 1 {
            o[0] = fold_run(fold, block);
        } else {
            fold_rows(fold, block, n, o);
        }
    }
    out
}

impl EvalOp for AxisReduce {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let view = input.try_as_plain_ram()?;
        let xs = view.as_slice::<f32>()?;
        let shape = input.shape();
        let (first, last) = (self.first, self.last.min(shape.len().saturating_sub(1)));
        let merged = [
            shape[..first].iter().product(),
            shape[first..=last].iter().product(),
            shape[last + 1..].iter().product(),
        ];
        let out = reduce_axis(self.fold, xs, &merged, 1);
        let mut shape = shape.to_vec();
        shape[first..=last].iter_mut().for_each(|d| *d = 1);
        Ok(tvec!(Tensor::from_shape(&shape, &out)?.into_tvalue()))
    }
}

impl TypedOp for AxisReduce {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        for d in &mut shape[self.first..=self.last] {
            *d = 1.into();
        }
        Ok(tvec!(f32::fact(shape)))
    }
}

/// Replace every f32 `Reduce` over one axis or adjacent axes (sum, mean of squares, max, min)
/// by [`AxisReduce`].
/// Runs on the optimized model, so tract's own passes saw its ops. Returns how many.
pub fn reductions(model: &mut TypedModel) -> TractResult<usize> {
    let mut found = Vec::new();
    for node in model.nodes() {
        let Some(r) = node.op_as::<Reduce>() else {
            continue;
        };
        let mut axes = r.axes.to_vec();
        axes.sort_unstable();
        let adjacent = axes.windows(2).all(|w| w[1] == w[0] + 1);
        let (Some(fold), Some(first), Some(last), true) =
            (Fold::of(&r.reducer), axes.first(), axes.last(), adjacent)
        else {
            continue;
        };
        let fact = model.outlet_fact(node.inputs[0])?;
        if fact.datum_type == f32::datum_type() && fact.is_plain() {
            found.push((
                node.id,
                AxisReduce {
                    first: *first,
                    last: *last,
                    fold,
                },
            ));
        }
    }
    super::replace_all(model, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition: every output element folded with a scalar loop in index order.
    fn naive(fold: Fold, xs: &[f32], shape: &[usize], axis: usize) -> Vec<f32> {
        let outer: usize = shape[..axis].iter().product();
        let n = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        let mut out = Vec::new();
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| xs[(o * n + k) * inner + i];
                let mut acc = fold.start(at(0));
                for k in 1..n {
                    acc = fold.step(acc, at(k));
                }
                out.push(fold.finish(acc, n));
            }
        }
        out
    }

    #[test]
    fn every_fold_and_axis_matches_the_plain_loop() {
        let shapes: &[&[usize]] = &[
            &[1, 512, 256],
            &[1, 512, 508],
            &[3, 5, 7],
            &[37],
            &[2, 15],
            &[4, 1, 3],
        ];
        for shape in shapes {
            let len: usize = shape.iter().product();
            let xs: Vec<f32> = (0..len)
                .map(|k| ((k * 7919) % 1013) as f32 / 97.0 - 5.0)
                .collect();
            for axis in 0..shape.len() {
                for fold in [Fold::Sum, Fold::MeanOfSquares, Fold::Max, Fold::Min] {
                    let got = reduce_axis(fold, &xs, shape, axis);
                    let want = naive(fold, &xs, shape, axis);
                    assert_eq!(got.len(), want.len());
                    for (g, w) in got.iter().zip(&want) {
                        let close = match fold {
                            Fold::Max | Fold::Min => g == w,
                            _ => (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                        };
                        assert!(close, "{fold:?} over axis {axis} of {shape:?}: {g} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_tract_reduce_is_replaced_and_answers_the_same() {
        for (reducer, axes) in [
            (Reducer::Sum, tvec![1]),
            (Reducer::MeanOfSquares, tvec![1]),
            (Reducer::Max, tvec![2]),
            (Reducer::Min, tvec![0]),
            // A global pool's spatial axes.
            (Reducer::Sum, tvec![1, 2]),
        ] {
            let mut model = TypedModel::default();
            let x = model.add_source("x", f32::fact([2, 9, 33])).unwrap();
            let r = model
                .wire_node("r", Reduce::new(axes, reducer), &[x])
                .unwrap();
            model.select_output_outlets(&r).unwrap();
            let input: Tensor = Tensor::from_shape(
                &[2, 9, 33],
                &(0..2 * 9 * 33)
                    .map(|k| (k % 17) as f32 - 8.0)
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            let want = crate::rewrite::run_on(model.clone(), &input);
            assert_eq!(reductions(&mut model).unwrap(), 1);
            assert!(model.nodes().iter().any(|n| n.op_is::<AxisReduce>()));
            let got = crate::rewrite::run_on(model, &input);
            got[0].close_enough(&want[0], Approximation::Close).unwrap();
        }
    }
}
