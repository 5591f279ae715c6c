//! Element-wise regions: the nodes downstream of one value `x` that compute, element by
//! element, a function of `x` alone (the other operands are constants). The GELU fusion and the
//! embedding fold both look for such a region, run it on values of their choosing to learn what
//! it computes, and replace it by one op.

use std::collections::{HashMap, HashSet};

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::konst::Const;

/// The element-wise nodes fed, directly or not, by `x` alone and constants accepted by
/// `const_ok`, in evaluation order. Every node keeps `x`'s shape (a constant never widens it).
pub fn grow(
    model: &TypedModel,
    x: OutletId,
    const_ok: impl Fn(&Tensor) -> bool,
) -> TractResult<Vec<usize>> {
    let shape = model.outlet_fact(x)?.shape.clone();
    let mut inside: HashSet<OutletId> = HashSet::from([x]);
    let mut nodes = Vec::new();
    for id in model.eval_order()? {
        let node = model.node(id);
        let elementwise = node.op_is::<TypedBinOp>() || node.op_is::<ElementWiseOp>();
        if !elementwise
            || node.outputs.len() != 1
            || node.inputs.iter().all(|i| !inside.contains(i))
        {
            continue;
        }
        let operands_ok = node.inputs.iter().all(|i| {
            inside.contains(i)
                || model
                    .node(i.node)
                    .op_as::<Const>()
                    .is_some_and(|c| const_ok(c.val()))
        });
        let fact = &node.outputs[0].fact;
        if operands_ok && fact.shape == shape && fact.datum_type == f32::datum_type() {
            inside.insert(OutletId::new(id, 0));
            nodes.push(id);
        }
    }
    Ok(nodes)
}

/// The nodes of `region` that `end` depends on, `end` included, in evaluation order.
fn ancestors(model: &TypedModel, region: &[usize], end: usize) -> Vec<usize> {
    let set: HashSet<usize> = region.iter().copied().collect();
    let mut seen = HashSet::from([end]);
    let mut stack = vec![end];
    while let Some(n) = stack.pop() {
        for i in &model.node(n).inputs {
            if set.contains(&i.node) && seen.insert(i.node) {
                stack.push(i.node);
            }
        }
    }
    region
        .iter()
        .copied()
        .filter(|n| seen.contains(n))
        .collect()
}

/// Ends the region can be cut at, latest first: an end whose inner values are used by nothing
/// outside its own part of the region, so replacing the end leaves no half-computed value
/// behind. Each comes with its part of the region.
pub fn ends(model: &TypedModel, region: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let mut out = Vec::new();
    for &end in region.iter().rev() {
        let part = ancestors(model, region, end);
        let set: HashSet<usize> = part.iter().copied().collect();
        let closed = part.iter().filter(|n| **n != end).all(|n| {
            model.node(*n).outputs[0]
                .successors
                .iter()
                .all(|s| set.contains(&s.node))
        });
        if closed {
            out.push((end, part));
        }
    }
    out
}

/// Run `part` (a region's nodes, in order) with `input` in place of `x`; the value of its last
/// node. The input may have another shape than `x` (a probe, a table): constants broadcast.
pub fn run_part(
    model: &TypedModel,
    x: OutletId,
    part: &[usize],
    input: Tensor,
) -> TractResult<Tensor> {
    let mut sub = TypedModel::default();
    let source = sub.add_source("x", f32::fact(input.shape()))?;
    let mut wires: HashMap<OutletId, OutletId> = HashMap::from([(x, source)]);
    for &id in part {
        let node = model.node(id);
        let mut inputs = TVec::new();
        for i in &node.inputs {
            let wire = match wires.get(i) {
                Some(w) => *w,
                None => {
                    let c = model.node(i.node).op_as::<Const>().ok_or_else(|| {
                        format_err!("{} is not a constant", model.node(i.node).name)
                    })?;
                    sub.add_const(format!("{}.{}", node.name, i.node), c.val().clone())?
                }
            };
            inputs.push(wire);
        }
        let out = sub.wire_node(&node.name, node.op.clone(), &inputs)?;
        wires.insert(OutletId::new(id, 0), out[0]);
    }
    let last = part.last().ok_or_else(|| format_err!("empty region"))?;
    let end = wires[&OutletId::new(*last, 0)];
    sub.select_output_outlets(&[end])?;
    let mut result = sub.into_runnable()?.run(tvec![input.into_tvalue()])?;
    Ok(result.remove(0).into_tensor())
}
