//! `gelu`, `hardswish`: an activation spelled out node by node becomes tract's one op for it
//! (`GeluApproximate`, `HardSwish`), which reads and writes the tensor once instead of once
//! per node.
//!
//! Exporters spell activations differently (jax2tf writes GELU's cube as `x * (x * (c * x))`
//! where PyTorch writes `Pow(x, 3)`, and tract only recognizes the latter; PaddlePaddle writes
//! hard-swish as `x * Clip(x + 3, 0, 6) / 6`). So the rewrite goes by what a region computes,
//! not by how it is written: an element-wise region of one value `x` with scalar constants
//! ([`super::region`]) is run on probe values (321 in [-8, 8], then 16, 100, 1e4, 1e6, -16), and
//! if it gives the activation's value at each of them (within 1e-5 abs, 1e-4 rel) it is
//! replaced. magika has two GELUs, PaddleOCR's
//! classifier eighteen hard-swishes.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::nn::gelu_approximate::gelu_approximate;
use tract_onnx::tract_core::ops::nn::hard_swish;

use super::region;

/// An activation the rewrite knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU's tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    Gelu,
    /// x·min(1, max(0, x/6 + 1/2)).
    HardSwish,
}

impl Activation {
    /// Its value, in f64.
    fn value(self, x: f64) -> f64 {
        match self {
            Activation::Gelu => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        }
    }

    /// What a region must contain to be worth probing.
    fn may_be(self, model: &TypedModel, part: &[usize]) -> bool {
        match self {
            Activation::Gelu => part.iter().any(|n| {
                model
                    .node(*n)
                    .op_as::<ElementWiseOp>()
                    .is_some_and(|e| e.0.name() == "Tanh")
            }),
            // x·(…): at least the clip's pieces and the product.
            Activation::HardSwish => part.len() >= 3,
        }
    }

    fn op(self) -> ElementWiseOp {
        match self {
            Activation::Gelu => gelu_approximate(false),
            Activation::HardSwish => hard_swish(),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Activation::Gelu => "gelu",
            Activation::HardSwish => "hardswish",
        }
    }
}

/// Probe values: dense around zero, where the curves bend (hard-swish's kinks at ±3 included),
/// out to ±8; then far positive ones, so a region that clamps its result beyond 8 is not taken
/// for the activation (far negative ones would only measure tract's tanh kernel, which stops
/// 3e-7 short of -1: GELU's -1e6·(1 + tanh) comes out as -0.3 either way).
fn probe() -> Vec<f32> {
    (-160..=160)
        .map(|k| k as f32 / 20.0)
        .chain([16.0, 100.0, 1e4, 1e6, -16.0])
        .collect()
}

/// Whether `part`, run with `x` = probe values, computes `act`.
fn computes(act: Activation, model: &TypedModel, x: OutletId, part: &[usize]) -> TractResult<bool> {
    let rank = model.outlet_fact(x)?.rank();
    let xs = probe();
    let mut shape = vec![1; rank.max(1)];
    shape[rank.max(1) - 1] = xs.len();
    let out = region::run_part(model, x, part, Tensor::from_shape(&shape, &xs)?)?;
    let view = out.try_as_plain_ram()?;
    let ys = view.as_slice::<f32>()?;
    Ok(ys.len() == xs.len()
        && xs.iter().zip(ys).all(|(x, y)| {
            let want = act.value(*x as f64);
            (*y as f64 - want).abs() <= 1e-5 + 1e-4 * want.abs()
        }))
}

/// The first region computing `act`: (x, its last node).
fn find(act: Activation, model: &TypedModel) -> TractResult<Option<(OutletId, usize)>> {
    for id in model.eval_order()? {
        let node = model.node(id);
        for (slot, out) in node.outputs.iter().enumerate() {
            // x feeds at least the inner expression and the final product.
            if out.fact.datum_type != f32::datum_type() || out.successors.len() < 2 {
                continue;
            }
            let x = OutletId::new(id, slot);
            let nodes = region::grow(model, x, |c| c.volume() == 1)?;
            for (end, part) in region::ends(model, &nodes) {
                if act.may_be(model, &part) && computes(act, model, x, &part)? {
                    return Ok(Some((x, end)));
                }
            }
        }
    }
    Ok(None)
}

/// Replace every region computing `act` by its one op. Returns how many.
pub fn fuse(model: &mut TypedModel, act: Activation) -> TractResult<usize> {
    let mut done = 0;
    while let Some((x, end)) = find(act, model)? {
        super::stand_in(model, x, end, act.suffix(), act.op())?;
        done += 1;
    }
    Ok(done)
}

/// [`fuse`] for GELU.
pub fn fuse_gelu(model: &mut TypedModel) -> TractResult<usize> {
    fuse(model, Activation::Gelu)
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
        crate::rewrite::run_on(m, &input)
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

    #[test]
    fn a_spelled_out_hard_swish_becomes_one_op_and_a_relu6_does_not() {
        // PaddlePaddle's spelling: x * min(max(x + 3, 0), 6) * (1/6).
        let build = |times_x: bool| {
            let mut m = TypedModel::default();
            let x = m.add_source("x", f32::fact([1, 4, 6])).unwrap();
            let k = |m: &mut TypedModel, name: &str, v: f32| {
                m.add_const(name, tensor3(&[[[v]]])).unwrap()
            };
            let (three, zero, six, sixth) = (
                k(&mut m, "3", 3.0),
                k(&mut m, "0", 0.0),
                k(&mut m, "6", 6.0),
                k(&mut m, "1/6", 1.0 / 6.0),
            );
            let a = m.wire_node("add", math::add(), &[x, three]).unwrap()[0];
            let lo = m.wire_node("max", math::max(), &[a, zero]).unwrap()[0];
            let hi = m.wire_node("min", math::min(), &[lo, six]).unwrap()[0];
            let mut y = m.wire_node("div", math::mul(), &[hi, sixth]).unwrap()[0];
            if times_x {
                y = m.wire_node("mul", math::mul(), &[x, y]).unwrap()[0];
            }
            m.select_output_outlets(&[y]).unwrap();
            m
        };
        let m = build(true);
        let want = run(m.clone());
        let mut fused = m;
        assert_eq!(fuse(&mut fused, Activation::HardSwish).unwrap(), 1);
        let names: Vec<String> = fused
            .nodes()
            .iter()
            .map(|n| n.op.name().to_string())
            .collect();
        assert_eq!(names, ["Source", "HardSwish"], "{names:?}");
        crate::rewrite::assert_close(&run(fused)[0], &want[0], "hard-swish fused vs spelled out");
        // Without the final product it is a hard sigmoid, not a hard-swish.
        let mut sigmoid = build(false);
        assert_eq!(fuse(&mut sigmoid, Activation::HardSwish).unwrap(), 0);
    }

    #[test]
    fn a_gelu_clamped_far_from_zero_is_not_taken_for_a_gelu() {
        // min(GELU(x), 10): GELU's values on [-8, 8], not beyond.
        let mut m = jax_gelu(false);
        let y = m.output_outlets().unwrap()[0];
        let ten = m.add_const("ten", tensor3(&[[[10f32]]])).unwrap();
        let clamped = m.wire_node("clamp", math::min(), &[y, ten]).unwrap();
        m.select_output_outlets(&clamped).unwrap();
        let n = fuse(&mut m, Activation::Gelu).unwrap();
        // The GELU inside is still found; the clamp stays after it.
        assert_eq!(n, 1);
        assert!(m.nodes().iter().any(|n| n.name == "clamp"));
        let xs: Vec<f32> = (0..24).map(|k| k as f32 - 4.0).collect();
        let input = Tensor::from_shape(&[1, 4, 6], &xs).unwrap();
        let out = crate::rewrite::run_on(m, &input);
        let v = out[0].try_as_plain_ram().unwrap();
        let v = v.as_slice::<f32>().unwrap();
        assert_eq!(v[23], 10.0, "x = 19 clamped to 10: {v:?}");
    }
}
