//! `upper`: clear the upper halves of the vector registers before each node of a plan runs.
//!
//! tract's AVX-512 and AVX2 matrix kernels return without `vzeroupper`, so the registers'
//! upper halves stay "dirty" after them. Code compiled for baseline x86-64 (SSE, without the
//! VEX encoding: the default build, tract's own non-kernel code and our rewrites' ops) then
//! pays a penalty on every vector instruction until something clears them. Measured on this
//! Xeon: a pad of a 64×7×7 tensor took 60 µs after a matrix product, 4 µs in a fresh thread or
//! after `vzeroupper`. One `vzeroupper` per node costs a cycle or so; a build for x86-64-v3
//! encodes everything with VEX and does not pay the penalty to begin with.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::SimpleState;

/// Clear the upper halves of the vector registers, on a CPU that has them (AVX).
#[inline]
pub fn clear() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked above), which is all `vzeroupper` needs.
        unsafe { vzeroupper() }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn vzeroupper() {
    std::arch::x86_64::_mm256_zeroupper();
}

/// Run `state` on `inputs`; with `clean`, the registers' upper halves are cleared before each
/// node and once after the last.
pub fn run(
    state: &mut TypedSimpleState,
    inputs: TVec<TValue>,
    clean: bool,
) -> TractResult<TVec<TValue>> {
    if !clean {
        return state.run(inputs);
    }
    let out = state.run_plan_with_eval(inputs, |ctx, op_state, node, input| {
        clear();
        tract_onnx::tract_core::plan::eval(ctx, op_state, node, input)
    });
    clear();
    out
}

/// [`run`] for a state about to be made from `plan`.
pub fn run_plan(
    plan: &Arc<TypedSimplePlan>,
    inputs: TVec<TValue>,
    clean: bool,
) -> TractResult<TVec<TValue>> {
    run(&mut SimpleState::new(plan)?, inputs, clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::internal::Approximation;
    use tract_onnx::tract_core::ops::math::add;

    #[test]
    fn a_plan_run_clean_answers_as_it_does_otherwise() {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([4, 8])).unwrap();
        let k = model
            .add_const("k", Tensor::from_shape(&[4, 8], &[0.5f32; 32]).unwrap())
            .unwrap();
        let y = model.wire_node("add", add(), &[x, k]).unwrap();
        model.select_output_outlets(&y).unwrap();
        let plan = model.into_runnable().unwrap();
        let input: Tensor = Tensor::from_shape(
            &[4, 8],
            &(0..32).map(|k| k as f32 * 0.25).collect::<Vec<_>>(),
        )
        .unwrap();
        let run = |clean| {
            let mut state = SimpleState::new(&plan).unwrap();
            // twice: the state is reset between runs either way
            run(&mut state, tvec![input.clone().into_tvalue()], clean).unwrap();
            run(&mut state, tvec![input.clone().into_tvalue()], clean).unwrap()
        };
        let (clean, plain) = (run(true), run(false));
        assert_eq!(clean[0].shape(), &[4, 8]);
        clean[0]
            .close_enough(&plain[0], Approximation::Exact)
            .unwrap();
        let first = clean[0].try_as_plain_ram().unwrap();
        assert_eq!(first.as_slice::<f32>().unwrap()[3], 1.25);
    }
}
