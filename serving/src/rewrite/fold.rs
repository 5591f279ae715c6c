//! `fold`: what a model does to each looked-up row, element by element (a bias, an
//! activation), is done once to the table at load instead of to every row of every request.
//!
//! After an [`EmbeddingLookup`], magika adds a bias and applies GELU to 2048×64 values per
//! input; both only depend on the row picked and the column, so `f(table[i])` can be looked
//! up instead of computing `f(lookup(table, i))`. The region ([`super::region`]) may use
//! constants that vary along the last axis only (a per-column bias). The fill row for an index
//! outside the table is folded too, `f(fill)`, so out-of-range indices keep their answer.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use super::lookup::EmbeddingLookup;
use super::region;

/// A constant that is the same along every axis but the last (at most `n` wide).
fn per_column(c: &Tensor, rank: usize, n: usize) -> bool {
    let s = c.shape();
    s.len() <= rank
        && s.iter().rev().skip(1).all(|d| *d == 1)
        && s.last().is_none_or(|d| *d == 1 || *d == n)
}

/// `t` [.., N] seen with the rank of the lookup's output: [1, …, 1, rows, N].
fn shaped(t: &Tensor, rank: usize) -> TractResult<Tensor> {
    let n = *t
        .shape()
        .last()
        .ok_or_else(|| format_err!("scalar table"))?;
    let rows = t.len() / n.max(1);
    let mut shape = vec![1; rank.saturating_sub(2)];
    shape.extend([rows, n]);
    t.clone().into_shape(&shape)
}

/// The first lookup followed by a foldable region: (lookup, region end, folded op).
fn find(model: &TypedModel) -> TractResult<Option<(usize, usize, EmbeddingLookup)>> {
    for node in model.nodes() {
        let Some(lookup) = node.op_as::<EmbeddingLookup>() else {
            continue;
        };
        let x = OutletId::new(node.id, 0);
        let rank = model.outlet_fact(x)?.rank();
        let n = lookup.table.shape()[1];
        let nodes = region::grow(model, x, |c| per_column(c, rank, n))?;
        let Some((end, part)) = region::ends(model, &nodes).into_iter().next() else {
            continue;
        };
        let k = lookup.table.shape()[0];
        let table = region::run_part(model, x, &part, shaped(&lookup.table, rank)?)?;
        let fill = region::run_part(model, x, &part, shaped(&lookup.fill, rank)?)?;
        let folded = EmbeddingLookup {
            table: Arc::new(table.into_shape(&[k, n])?),
            fill: Arc::new(fill.into_shape(&[n])?),
        };
        return Ok(Some((node.id, end, folded)));
    }
    Ok(None)
}

/// Fold every element-wise region after a lookup into its table. Returns how many.
pub fn fold_into_tables(model: &mut TypedModel) -> TractResult<usize> {
    let mut done = 0;
    while let Some((lookup, end, folded)) = find(model)? {
        let indices = model.node(lookup).inputs[0];
        super::stand_in(model, indices, end, "folded", folded)?;
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::math;

    /// lookup(table, i) + bias[N], then tanh, then · 2: the whole tail folds into the table.
    fn model(bias_len: usize) -> TypedModel {
        let mut m = TypedModel::default();
        let i = m.add_source("i", i64::fact([2, 5])).unwrap();
        let table: Vec<f32> = (0..4 * 3).map(|k| k as f32 / 4.0 - 1.0).collect();
        let table = Tensor::from_shape(&[4, 3], &table)
            .unwrap()
            .into_arc_tensor();
        let l = m
            .wire_node("lookup", EmbeddingLookup::new(table).unwrap(), &[i])
            .unwrap()[0];
        let bias: Vec<f32> = (0..bias_len).map(|k| k as f32 * 0.5 - 0.25).collect();
        let bias = m
            .add_const(
                "bias",
                Tensor::from_shape(&[1, 1, bias_len], &bias).unwrap(),
            )
            .unwrap();
        let b = m.wire_node("add", math::add(), &[l, bias]).unwrap()[0];
        let t = m.wire_node("tanh", math::tanh(), &[b]).unwrap()[0];
        let two = m.add_const("two", tensor3(&[[[2f32]]])).unwrap();
        let y = m.wire_node("mul", math::mul(), &[t, two]).unwrap()[0];
        m.select_output_outlets(&[y]).unwrap();
        m
    }

    fn run(m: TypedModel) -> TVec<TValue> {
        // Indices in range, negative and past the table.
        let idx = Tensor::from_shape(&[2, 5], &[0i64, 1, 2, 3, -1, 4, 9, 3, 0, 2]).unwrap();
        crate::rewrite::run_on(m, &idx)
    }

    #[test]
    fn bias_and_activation_fold_into_the_table_even_out_of_range() {
        let m = model(3);
        let want = run(m.clone());
        let mut folded = m;
        assert_eq!(fold_into_tables(&mut folded).unwrap(), 1);
        let ops: Vec<String> = folded
            .nodes()
            .iter()
            .map(|n| n.op.name().to_string())
            .collect();
        assert_eq!(
            ops,
            ["Source", "EmbeddingLookup"],
            "nothing but the lookup is left"
        );
        let got = run(folded);
        crate::rewrite::assert_close(&got[0], &want[0], "folded vs not");
        // Out of range is not zero any more: it is f(0 + bias) = 2·tanh(bias).
        let view = got[0].try_as_plain_ram().unwrap();
        let row = &view.as_slice::<f32>().unwrap()[4 * 3..5 * 3];
        assert!((row[1] - 2.0 * 0.25f32.tanh()).abs() < 1e-6, "{row:?}");
    }

    #[test]
    fn a_constant_that_varies_along_rows_is_not_folded() {
        // A [1, 5, 1] "bias" depends on the position, not on the row looked up.
        let mut m = TypedModel::default();
        let i = m.add_source("i", i64::fact([1, 5])).unwrap();
        let table = Tensor::from_shape(&[4, 3], &[0f32; 12])
            .unwrap()
            .into_arc_tensor();
        let l = m
            .wire_node("lookup", EmbeddingLookup::new(table).unwrap(), &[i])
            .unwrap()[0];
        let pos = m
            .add_const(
                "pos",
                Tensor::from_shape(&[1, 5, 1], &[1f32, 2., 3., 4., 5.]).unwrap(),
            )
            .unwrap();
        let y = m.wire_node("add", math::add(), &[l, pos]).unwrap()[0];
        m.select_output_outlets(&[y]).unwrap();
        assert_eq!(fold_into_tables(&mut m).unwrap(), 0);
    }
}
