//! `gelu`: a GELU spelled out node by node becomes tract's one `GeluApproximate` op, which
//! reads and writes the tensor once instead of nine times.
//!
//! Exporters spell GELU's tanh form differently (jax2tf writes `x * (x * (c * x))` where
//! PyTorch writes `Pow(x, 3)`; tract only recognizes the latter). So the rewrite goes by what a
//! region computes, not by how it is written: an element-wise region of one value `x` with
//! scalar constants and a `Tanh` in it ([`super::region`]) is run on probe values, and if it
//! gives `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` at each of them (within 1e-5 abs,
//! 1e-4 rel) it is replaced. magika has two.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::nn::gelu_approximate::gelu_approximate;

use super::region;

/// The tanh form of GELU, in f64.
fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

/// Probe values: dense around zero, where the curve bends, out to ±8.
fn probe() -> Vec<f32> {
    (-160..=160).map(|k| k as f32 / 20.0).collect()
}

fn has_tanh(model: &TypedModel, part: &[usize]) -> bool {
    part.iter().any(|n| {
        model
            .node(*n)
            .op_as::<ElementWiseOp>()
            .is_some_and(|e| e.0.name() == "Tanh")
    })
}

/// Whether `part`, run with `x` = probe values, computes GELU's tanh form.
fn computes_gelu(model: &TypedModel, x: OutletId, part: &[usize]) -> TractResult<bool> {
    let rank = model.outlet_fact(x)?.rank();
    let xs = probe();
    let mut shape = vec![1; rank.max(1)];
    shape[rank.max(1) - 1] = xs.len();
    let out = region::run_part(model, x, part, Tensor::from_shape(&shape, &xs)?)?;
    let view = out.try_as_plain_ram()?;
    let ys = view.as_slice::<f32>()?;
    Ok(ys.len() == xs.len()
        && xs.iter().zip(ys).all(|(x, y)| {
            let want = gelu_tanh(*x as f64);
            (*y as f64 - want).abs() <= 1e-5 + 1e-4 * want.abs()
        }))
}

/// The first GELU region: (x, its last node).
fn find(model: &TypedModel) -> TractResult<Option<(OutletId, usize)>> {
    for id in model.eval_order()? {
        let node = model.node(id);
        for (slot, out) in node.outputs.iter().enumerate() {
            // x feeds at least the square, the sum and the final product.
            if out.fact.datum_type != f32::datum_type() || out.successors.len() < 2 {
                continue;
            }
            let x = OutletId::new(id, slot);
            let nodes = region::grow(model, x, |c| c.volume() == 1)?;
            for (end, part) in region::ends(model, &nodes) {
                if has_tanh(model, &part) && computes_gelu(model, x, &part)? {
                    return Ok(Some((x, end)));
                }
            }
        }
    }
    Ok(None)
}

/// Replace every GELU region by one `GeluApproximate`. Returns how many.
pub fn fuse_gelu(model: &mut TypedModel) -> TractResult<usize> {
    let mut done = 0;
    while let Some((x, end)) = find(model)? {
        let mut patch = TypedModelPatch::default();
        let tap = patch.tap_model(model, x)?;
        let name = format!("{}.gelu", model.node(end).name);
        let out = patch.wire_node(name, gelu_approximate(false), &[tap])?;
        patch.shunt_outside(model, OutletId::new(end, 0), out[0])?;
        patch.apply(model)?;
        model.compact()?;
        done += 1;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::konst::Const;
    use tract_onnx::tract_core::ops::math;

    /// jax2tf's spelling: 0.5 * (x * (1 + tanh(c1 * (x + x * (x * (c0 * x)))))).
    fn jax_gelu(extra_use: bool) -> TypedModel {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([1, 4, 6])).unwrap();
        // Constants have the rank of x, as in a decluttered graph.
        let k =
            |m: &mut TypedModel, name: &str, v: f32| m.add_const(name, tensor3(&[[[v]]])).unwrap();
        let c0 = k(&mut m, "c0", 0.044715);
        let c1 = k(&mut m, "c1", (2.0f32 / std::f32::consts::PI).sqrt());
        let one = k(&mut m, "one", 1.0);
        let half = k(&mut m, "half", 0.5);
        let mul =
            |m: &mut TypedModel, n: &str, a, b| m.wire_node(n, math::mul(), &[a, b]).unwrap()[0];
        let add =
            |m: &mut TypedModel, n: &str, a, b| m.wire_node(n, math::add(), &[a, b]).unwrap()[0];
        let cx = mul(&mut m, "m0", c0, x);
        let x2 = mul(&mut m, "m1", x, cx);
        let x3 = mul(&mut m, "m2", x, x2);
        let s = add(&mut m, "a0", x, x3);
        let inner = mul(&mut m, "m3", c1, s);
        let t = m.wire_node("tanh", math::tanh(), &[inner]).unwrap()[0];
        let t1 = add(&mut m, "a1", one, t);
        let h = mul(&mut m, "m4", half, t1);
        let y = mul(&mut m, "m5", x, h);
        let mut outputs = vec![y];
        if extra_use {
            // x³ also feeds a node outside the GELU.
            outputs.push(add(&mut m, "elsewhere", x3, one));
        }
        m.select_output_outlets(&outputs).unwrap();
        m
    }

    fn run(m: TypedModel) -> TVec<TValue> {
        let xs: Vec<f32> = (0..24).map(|k| k as f32 / 3.0 - 4.0).collect();
        let input = Tensor::from_shape(&[1, 4, 6], &xs).unwrap();
        m.into_runnable()
            .unwrap()
            .run(tvec![input.into_tvalue()])
            .unwrap()
    }

    #[test]
    fn a_spelled_out_gelu_becomes_one_op_with_the_same_values() {
        let m = jax_gelu(false);
        let want = run(m.clone());
        let mut fused = m;
        assert_eq!(fuse_gelu(&mut fused).unwrap(), 1);
        let names: Vec<String> = fused
            .nodes()
            .iter()
            .map(|n| n.op.name().to_string())
            .collect();
        assert!(names.iter().any(|n| n == "GeluApproximate"), "{names:?}");
        assert!(!names.iter().any(|n| n == "Tanh"), "{names:?}");
        let got = run(fused);
        crate::rewrite::assert_close(&got[0], &want[0], "fused vs spelled out");
    }

    #[test]
    fn a_gelu_whose_inner_value_is_used_elsewhere_is_left_alone() {
        let mut m = jax_gelu(true);
        assert_eq!(fuse_gelu(&mut m).unwrap(), 0);
    }

    #[test]
    fn a_region_with_other_constants_is_not_taken_for_a_gelu() {
        // Same spelling, 0.5 replaced by 0.6: tanh is there, but it is not GELU.
        let mut m = jax_gelu(false);
        let half = m.nodes().iter().find(|n| n.name == "half").unwrap().id;
        m.node_mut(half).op =
            Box::new(Const::new(tensor3(&[[[0.6f32]]]).into_arc_tensor()).unwrap());
        assert_eq!(fuse_gelu(&mut m).unwrap(), 0);
    }
}
