//! `peak`: the max of GELU over an axis is GELU at that axis' max or min, whichever is larger,
//! so GELU runs on two values per output instead of on the whole tensor.
//!
//! GELU falls from 0 to its minimum (about -0.17, at x ≈ -0.75) and rises after it, so over any
//! set of values its largest value is at the set's largest or its smallest element. magika ends
//! its convolution with GELU then a global max pool over 508 positions: this reads the 512×508
//! values once for their max and min and computes 1,024 GELUs instead of 260,096. It applies
//! only when the max pool is the GELU's one consumer.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::gelu_approximate::{GeluApproximate, gelu_approximate};
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

fn is_exact_tanh_gelu(node: &TypedNode) -> bool {
    node.op_as::<ElementWiseOp>()
        .and_then(|e| e.0.downcast_ref::<GeluApproximate>())
        .is_some_and(|g| !g.fast_impl)
}

/// (max-reduce node, GELU input) of the first match.
fn find(model: &TypedModel) -> Option<(usize, OutletId)> {
    model.nodes().iter().find_map(|node| {
        let r = node.op_as::<Reduce>()?;
        if r.reducer != Reducer::Max {
            return None;
        }
        let gelu = model.node(node.inputs[0].node);
        let only_use =
            gelu.outputs[0].successors.len() == 1 && !model.outputs.contains(&node.inputs[0]);
        // An empty axis has no extremes to take (the max of nothing is f32::MIN).
        let shape = &model.outlet_fact(node.inputs[0]).ok()?.shape;
        let non_empty = r.axes.iter().all(|a| {
            shape
                .get(*a)
                .and_then(|d| d.to_usize().ok())
                .is_some_and(|d| d >= 1)
        });
        (is_exact_tanh_gelu(gelu) && only_use && non_empty).then(|| (node.id, gelu.inputs[0]))
    })
}

/// Rewrite every max-of-GELU. Returns how many.
pub fn max_of_gelu(model: &mut TypedModel) -> TractResult<usize> {
    let mut done = 0;
    while let Some((reduce, x)) = find(model) {
        let node = model.node(reduce);
        let axes = node
            .op_as::<Reduce>()
            .map(|r| r.axes.clone())
            .ok_or_else(|| format_err!("not a reduce"))?;
        let name = node.name.clone();
        let mut patch = TypedModelPatch::default();
        let x = patch.tap_model(model, x)?;
        let hi = patch.wire_node(
            format!("{name}.hi"),
            Reduce::new(axes.clone(), Reducer::Max),
            &[x],
        )?;
        let lo = patch.wire_node(format!("{name}.lo"), Reduce::new(axes, Reducer::Min), &[x])?;
        let hi = patch.wire_node(format!("{name}.hi.gelu"), gelu_approximate(false), &hi)?;
        let lo = patch.wire_node(format!("{name}.lo.gelu"), gelu_approximate(false), &lo)?;
        let out = patch.wire_node(format!("{name}.peak"), math::max(), &[hi[0], lo[0]])?;
        super::finish(model, patch, reduce, out[0])?;
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gelu_then_max(shape: [usize; 3], axis: usize) -> TypedModel {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(shape)).unwrap();
        let g = m.wire_node("gelu", gelu_approximate(false), &[x]).unwrap();
        let r = m
            .wire_node("max", Reduce::new(tvec![axis], Reducer::Max), &g)
            .unwrap();
        m.select_output_outlets(&r).unwrap();
        m
    }

    #[test]
    fn max_of_gelu_is_gelu_of_an_extreme_on_every_kind_of_row() {
        // Rows entirely below the minimum, entirely between it and 0, straddling it, positive,
        // and rows whose largest GELU comes from their most negative element.
        let rows: [[f32; 6]; 6] = [
            [-9.0, -5.0, -3.0, -2.5, -1.5, -1.0],
            [-0.7, -0.5, -0.3, -0.2, -0.1, -0.05],
            [-3.0, -0.75, -0.4, -1.2, -2.0, -0.9],
            [0.1, 2.0, -4.0, 1.5, 0.0, 3.5],
            [-6.0, -0.8, -0.74, -0.76, -0.6, -3.0],
            [-0.3, -4.0, -0.2, -0.25, -0.28, -0.29],
        ];
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        for axis in [1, 2] {
            let (shape, input) = if axis == 2 {
                ([1, 6, 6], Tensor::from_shape(&[1, 6, 6], &data).unwrap())
            } else {
                // The same rows along the middle axis.
                let t: Vec<f32> = (0..36).map(|k| data[(k % 6) * 6 + k / 6]).collect();
                ([1, 6, 6], Tensor::from_shape(&[1, 6, 6], &t).unwrap())
            };
            let m = gelu_then_max(shape, axis);
            let want = crate::rewrite::run_on(m.clone(), &input);
            let mut rewritten = m;
            assert_eq!(max_of_gelu(&mut rewritten).unwrap(), 1);
            let got = crate::rewrite::run_on(rewritten, &input);
            // GELU of one value and of a whole row run through different kernels: close,
            // not equal to the bit.
            crate::rewrite::assert_close(&got[0], &want[0], &format!("axis {axis}"));
        }
    }

    #[test]
    fn a_gelu_used_elsewhere_too_is_left_alone() {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([1, 4, 5])).unwrap();
        let g = m.wire_node("gelu", gelu_approximate(false), &[x]).unwrap();
        let r = m
            .wire_node("max", Reduce::new(tvec![2], Reducer::Max), &g)
            .unwrap();
        m.select_output_outlets(&[r[0], g[0]]).unwrap();
        assert_eq!(max_of_gelu(&mut m).unwrap(), 0);
    }
}
