//! Looking into a prepared plan for work that need not be there (`raw_timing --constant-work`).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::konst::Const;

/// Nodes that compute from constants alone: work repeated on every run that folding at load
/// would do once (tract declines to fold some, over its constant-folding memory budget). Each
/// as "op name".
pub fn constant_work(model: &TypedModel) -> Vec<String> {
    model
        .nodes()
        .iter()
        .filter(|n| {
            !n.op_is::<Const>()
                && !n.inputs.is_empty()
                && n.inputs.iter().all(|o| model.node(o.node).op_is::<Const>())
        })
        .map(|n| format!("{} {}", n.op().name(), n.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::math::add;

    #[test]
    fn finds_a_node_fed_by_constants_only() {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([2])).unwrap();
        let a = m.add_const("a", tensor1(&[1f32, 2.])).unwrap();
        let b = m.add_const("b", tensor1(&[3f32, 4.])).unwrap();
        // Added as a node, not wired (wiring folds constants at once), as a plan can hold it.
        let ab = m.add_node("ab", add(), tvec![f32::fact([2])]).unwrap();
        m.add_edge(a, InletId::new(ab, 0)).unwrap();
        m.add_edge(b, InletId::new(ab, 1)).unwrap();
        let ab = OutletId::new(ab, 0);
        let out = m.wire_node("out", add(), &[x, ab]).unwrap()[0];
        m.select_output_outlets(&[out]).unwrap();
        assert_eq!(constant_work(&m), ["Add ab"]);
        // Folded, nothing is left to do at run time.
        let folded = m.into_optimized().unwrap();
        assert!(constant_work(&folded).is_empty());
    }
}
