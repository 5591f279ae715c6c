//! `lookup`: `one_hot_matmul_to_lookup`: the pattern `Cast<f32>(Eq(x[.., None], iota(K))) · W[K, N]`
//! (a one-hot encoding multiplied by a weight matrix, as jax2tf exports an embedding — magika
//! has it) becomes a row lookup in W. It builds no K-wide one-hot tensor and multiplies nothing:
//! for magika at batch 1 that skips a 2048×257 comparison and a 2048×257×64 matrix product.
//! Semantics are kept exactly: an index outside 0..K gives a zero row, as the one-hot did.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::konst::Const;

/// Rows of `table` picked by integer indices; `fill` (one row) for an index outside the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingLookup {
    pub table: Arc<Tensor>,
    pub fill: Arc<Tensor>,
}

impl EmbeddingLookup {
    /// A lookup in `table` [K, N] that gives a zero row outside it, as a one-hot product does.
    pub fn new(table: Arc<Tensor>) -> TractResult<EmbeddingLookup> {
        let n = *table
            .shape()
            .get(1)
            .ok_or_else(|| format_err!("table of rank < 2"))?;
        let fill = Tensor::zero::<f32>(&[n])?.into_arc_tensor();
        Ok(EmbeddingLookup { table, fill })
    }
}

impl Op for EmbeddingLookup {
    fn name(&self) -> StaticName {
        "EmbeddingLookup".into()
    }
    op_as_typed_op!();
}

impl EvalOp for EmbeddingLookup {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let indices = inputs[0].cast_to::<i64>()?;
        let view = indices.try_as_plain_ram()?;
        let idx = view.as_slice::<i64>()?;
        let table = self.table.try_as_plain_ram()?;
        let table = table.as_slice::<f32>()?;
        let fill = self.fill.try_as_plain_ram()?;
        let fill = fill.as_slice::<f32>()?;
        let (k, n) = (self.table.shape()[0], self.table.shape()[1]);
        let mut out = vec![0f32; idx.len() * n];
        // A table of empty rows gives an empty output: no chunk at all.
        for (row, &i) in out.chunks_exact_mut(n.max(1)).zip(idx) {
            if (0..k as i64).contains(&i) {
                let i = i as usize;
                row.copy_from_slice(&table[i * n..(i + 1) * n]);
            } else {
                row.copy_from_slice(fill);
            }
        }
        let mut shape: Vec<usize> = inputs[0].shape().to_vec();
        shape.push(n);
        Ok(tvec!(Tensor::from_shape(&shape, &out)?.into_tvalue()))
    }
}

impl TypedOp for EmbeddingLookup {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        shape.push(self.table.shape()[1].into());
        Ok(tvec!(f32::fact(shape)))
    }
}

/// Find and replace every one-hot·matrix pattern. Returns how many were replaced.
pub fn one_hot_matmul_to_lookup(model: &mut TypedModel) -> TractResult<usize> {
    let mut done = 0;
    loop {
        let Some((x, einsum, table)) = find(model)? else {
            break;
        };
        super::stand_in(model, x, einsum, "lookup", EmbeddingLookup::new(table)?)?;
        done += 1;
    }
    Ok(done)
}

fn konst(model: &TypedModel, o: OutletId) -> Option<Arc<Tensor>> {
    model.node(o.node).op_as::<Const>().map(|c| c.val().clone())
}

/// (indices outlet, einsum node, table) of the first match.
fn find(model: &TypedModel) -> TractResult<Option<(OutletId, usize, Arc<Tensor>)>> {
    for node in model.nodes() {
        // EinSum "…mk,kn->…mn" of (one-hot, const W[K,N]).
        let Some(es) = node.op_as::<EinSum>() else {
            continue;
        };
        if node.inputs.len() != 2 || es.operating_dt != f32::datum_type() {
            continue;
        }
        let expr = format!("{}", es.axes);
        let Some(table) = konst(model, node.inputs[1]) else {
            continue;
        };
        if table.rank() != 2 || table.datum_type() != f32::datum_type() || expr != "amk,kn->amn" {
            continue;
        }
        let k = table.shape()[0];
        // Cast<f32> of Eq, used only by this einsum.
        let cast = model.node(node.inputs[0].node);
        if cast
            .op_as::<Cast>()
            .is_none_or(|c| c.to != f32::datum_type())
            || cast.outputs[0].successors.len() != 1
        {
            continue;
        }
        let eq = model.node(cast.inputs[0].node);
        let Some(bin) = eq.op_as::<TypedBinOp>() else {
            continue;
        };
        if format!("{:?}", bin.0) != "CompEq" || eq.outputs[0].successors.len() != 1 {
            continue;
        }
        // One side: AddAxis(last) of integer indices [.., M]; other side: iota(K) shaped [1, 1, K].
        let (a, b) = (eq.inputs[0], eq.inputs[1]);
        let (add_axis, iota) = if konst(model, b).is_some() {
            (a, b)
        } else {
            (b, a)
        };
        let Some(iota) = konst(model, iota) else {
            continue;
        };
        let is_iota = iota.shape().iter().rev().skip(1).all(|d| *d == 1)
            && iota.shape().last() == Some(&k)
            && iota
                .cast_to::<i64>()
                .ok()
                .and_then(|t| {
                    t.try_as_plain_ram()
                        .ok()
                        .and_then(|v| v.as_slice::<i64>().ok().map(|s| s.to_vec()))
                })
                .is_some_and(|s| s.iter().enumerate().all(|(i, v)| *v == i as i64));
        if !is_iota {
            continue;
        }
        let ax = model.node(add_axis.node);
        let x = ax.inputs.first().copied();
        let indices_rank = x.and_then(|x| model.outlet_fact(x).ok()).map(|f| f.rank());
        let adds_last =
            matches!(ax.op_as::<AxisOp>(), Some(AxisOp::Add(p)) if Some(*p) == indices_rank);
        let int_indices = x
            .and_then(|x| model.outlet_fact(x).ok())
            .is_some_and(|f| f.datum_type.is_integer() && f.rank() == 2);
        if let (Some(x), true, true) = (x, adds_last, int_indices) {
            return Ok(Some((x, node.id, table)));
        }
    }
    Ok(None)
}
