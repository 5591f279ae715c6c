//! `pool`: a 2-D max pool over channel-first f32 planes becomes [`MaxPool2d`], which takes the
//! max of the window's rows first (whole rows at once, vectorized) and then across each
//! window's columns. SqueezeNet spends a sixth of its time in its three 3×3 stride-2 max pools
//! with tract's generic pooling; this walks each plane once per output row.
//!
//! Only the plain case is taken: two spatial axes, channels before them, no dilation, no index
//! output, a concrete input shape, at least one output position. Padding counts as absent
//! (ONNX's max pool semantics); as in tract, values start from f32::MIN, so a NaN is never the
//! max and a window of padding alone gives f32::MIN.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::MaxPool;

/// Max over `kernel` windows moved by `strides`, the first window starting `pad` before the
/// plane; the input is [.., H, W] planes, the output [.., out[0], out[1]].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPool2d {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub pad: [usize; 2],
    pub out: [usize; 2],
}

impl Op for MaxPool2d {
    fn name(&self) -> StaticName {
        "MaxPool2d".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "kernel {:?}, strides {:?}, pad {:?}",
            self.kernel, self.strides, self.pad
        )])
    }
    op_as_typed_op!();
}

/// The larger of two values, written so it compiles to one vector max instruction (a NaN
/// in `b` is skipped; one already in `a` stays).
#[inline(always)]
fn larger(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

/// The input positions a window covers along one axis, clipped to the plane.
fn span(o: usize, stride: usize, pad: usize, k: usize, len: usize) -> std::ops::Range<usize> {
    let start = (o * stride) as isize - pad as isize;
    let lo = start.max(0) as usize;
    let hi = ((start + k as isize).max(0) as usize).min(len);
    lo..hi.max(lo)
}

impl MaxPool2d {
    /// Pool one plane [h, w] into `out` [self.out[0], self.out[1]], `rows` as scratch (w long).
    fn plane(&self, xs: &[f32], h: usize, w: usize, out: &mut [f32], rows: &mut [f32]) {
        let [oh, ow] = self.out;
        for (oy, line) in out.chunks_exact_mut(ow).take(oh).enumerate() {
            let ys = span(oy, self.strides[0], self.pad[0], self.kernel[0], h);
            if ys.is_empty() {
                line.iter_mut().for_each(|v| *v = f32::MIN);
                continue;
            }
            // From f32::MIN, as tract's pooling starts: a NaN is never taken.
            rows.iter_mut().for_each(|r| *r = f32::MIN);
            for y in ys {
                for (r, x) in rows.iter_mut().zip(&xs[y * w..(y + 1) * w]) {
                    *r = larger(*r, *x);
                }
            }
            let (k, s, pad) = (self.kernel[1], self.strides[1], self.pad[1]);
            // The windows wholly inside the row (all of them without padding): one strided
            // pass per kernel column; those over the padding at either end, one by one.
            let lo = pad.div_ceil(s).min(ow);
            let hi = if w + pad >= k {
                ((w + pad - k) / s + 1).clamp(lo, ow)
            } else {
                lo
            };
            let inner = &mut line[lo..hi];
            inner.iter_mut().for_each(|v| *v = f32::MIN);
            for kx in 0..k {
                let from = (lo * s + kx).saturating_sub(pad).min(w);
                for (v, x) in inner.iter_mut().zip(rows[from..].iter().step_by(s)) {
                    *v = larger(*v, *x);
                }
            }
            for ox in (0..lo).chain(hi..ow) {
                let cols = span(ox, s, pad, k, w);
                line[ox] = rows[cols].iter().fold(f32::MIN, |m, x| larger(m, *x));
            }
        }
    }
}

impl EvalOp for MaxPool2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let shape = input.shape();
        let r = shape.len();
        if r < 2 {
            bail!("MaxPool2d needs two spatial axes, got shape {shape:?}");
        }
        let (h, w) = (shape[r - 2], shape[r - 1]);
        let view = input.try_as_plain_ram()?;
        let xs = view.as_slice::<f32>()?;
        let [oh, ow] = self.out;
        let planes: usize = shape[..r - 2].iter().product();
        let mut out = vec![0f32; planes * oh * ow];
        let mut rows = vec![0f32; w];
        if h * w > 0 && oh * ow > 0 {
            for (x, o) in xs.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
                self.plane(x, h, w, o, &mut rows);
            }
        }
        let mut out_shape = shape.to_vec();
        out_shape[r - 2] = oh;
        out_shape[r - 1] = ow;
        Ok(tvec!(Tensor::from_shape(&out_shape, &out)?.into_tvalue()))
    }
}

impl TypedOp for MaxPool2d {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        let r = shape.len();
        shape[r - 2] = self.out[0].into();
        shape[r - 1] = self.out[1].into();
        Ok(tvec!(f32::fact(shape)))
    }
}

/// The [`MaxPool2d`] that does what `node` (a tract `MaxPool`) does, when it is the plain case.
fn plain(model: &TypedModel, node: &TypedNode) -> TractResult<Option<MaxPool2d>> {
    let Some(op) = node.op_as::<MaxPool>() else {
        return Ok(None);
    };
    let spec = &op.pool_spec;
    let fact = model.outlet_fact(node.inputs[0])?;
    let Some(shape) = fact.shape.as_concrete() else {
        return Ok(None);
    };
    let r = shape.len();
    let dilated = spec.dilations().iter().any(|d| *d != 1);
    if op.with_index_outputs.is_some()
        || fact.datum_type != f32::datum_type()
        || spec.kernel_shape.len() != 2
        || spec.data_format.c_is_last()
        || dilated
        || r < 3
    {
        return Ok(None);
    }
    let hw = &shape[r - 2..];
    let geo = spec.computed_padding(hw);
    if geo.iter().any(|g| g.convoluted == 0) {
        return Ok(None);
    }
    let strides = spec.strides();
    Ok(Some(MaxPool2d {
        kernel: [spec.kernel_shape[0], spec.kernel_shape[1]],
        strides: [strides[0], strides[1]],
        pad: [geo[0].pad_before, geo[1].pad_before],
        out: [geo[0].convoluted, geo[1].convoluted],
    }))
}

/// Replace every plain 2-D max pool. Returns how many.
pub fn max_pools(model: &mut TypedModel) -> TractResult<usize> {
    let mut found = Vec::new();
    for node in model.nodes() {
        if let Some(op) = plain(model, node)? {
            found.push((node.id, op));
        }
    }
    super::replace_all(model, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
    use tract_onnx::tract_core::ops::nn::DataFormat;

    fn pool(kernel: usize, stride: usize, pad: usize, shape: [usize; 4]) -> TypedModel {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(shape)).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![kernel, kernel],
            padding: PaddingSpec::Explicit(tvec![pad, pad], tvec![pad, pad]),
            dilations: None,
            strides: Some(tvec![stride, stride]),
            input_channels: shape[1],
            output_channels: shape[1],
        };
        let y = m
            .wire_node(
                "pool",
                MaxPool {
                    pool_spec: spec,
                    with_index_outputs: None,
                },
                &[x],
            )
            .unwrap();
        m.select_output_outlets(&y).unwrap();
        m
    }

    #[test]
    fn max_pools_answer_as_tracts_for_squeezenet_resnet_and_ppocr_shapes() {
        // (kernel, stride, pad, input): SqueezeNet's, ResNet's (padded), PaddleOCR's 2×2, and
        // odd sizes where the last window is cut short.
        for (k, s, p, shape) in [
            (3, 2, 0, [1, 3, 13, 13]),
            (3, 2, 1, [2, 2, 12, 9]),
            (2, 2, 0, [1, 4, 6, 24]),
            (3, 1, 1, [1, 1, 5, 7]),
            // Padding at both ends of wider rows: windows over it, then wholly inside.
            (3, 2, 2, [1, 2, 7, 17]),
            (5, 3, 2, [1, 1, 9, 23]),
        ] {
            let m = pool(k, s, p, shape);
            let n: usize = shape.iter().product();
            let xs: Vec<f32> = (0..n).map(|i| ((i * 7919) % 211) as f32 - 105.0).collect();
            let input = Tensor::from_shape(&shape, &xs).unwrap();
            let want = crate::rewrite::run_on(m.clone(), &input);
            let mut ours = m;
            assert_eq!(max_pools(&mut ours).unwrap(), 1);
            assert!(ours.nodes().iter().any(|n| n.op_is::<MaxPool2d>()));
            let got = crate::rewrite::run_on(ours, &input);
            assert_eq!(got[0].shape(), want[0].shape(), "{k} {s} {p} {shape:?}");
            got[0].close_enough(&want[0], Approximation::Exact).unwrap();
        }
    }

    #[test]
    fn a_pool_with_no_output_position_is_left_to_tract() {
        // A 3×3 window does not fit a 2×2 plane without padding: zero outputs.
        let mut m = pool(3, 1, 0, [1, 1, 2, 2]);
        assert_eq!(max_pools(&mut m).unwrap(), 0);
    }
}
