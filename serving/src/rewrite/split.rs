//! `split`: a 2-D convolution with a kernel of 3×3 or more over [`MIN_CHANNELS`] input
//! channels or more (a matrix product at least 2,304 deep, as ResNet-50's 3×3 convolutions
//! over 256 and 512 channels) becomes the sum of convolutions over slices of at most
//! [`SLICE`] input channels, as even as the count allows.
//!
//! tract packs the whole depth of the product for every tile of outputs: at a depth of 4,608
//! (512 channels × 3×3) one 12-column panel is 221 KB, several times a core's first-level data
//! cache (48 KB on the Xeon measured), and on ResNet-50's last stage (7×7 outputs) the product
//! ran at about a third of the core's peak against two thirds on shallower ones. Slices of 64
//! channels (576 deep for a 3×3 kernel, a 28 KB panel) fit; the partial sums are added after. On
//! resnet50-light the nine deepest convolutions went from about 30 to about 20 ms in the
//! per-node profile. Splitting 1×1 convolutions, shallower 3×3 ones, or into slices of 32 or
//! 128 channels measured within noise or slower on that model, so the rule stays near what
//! paid; it was measured on ResNet's 14×14 and 7×7 maps only. On larger maps tract may run
//! the slices with its direct convolution instead of a matrix product (its own rule).
//!
//! Only the plain case is taken: one group, f32 input and weights in OIHW that are constants,
//! no quantization. The bias goes to the first slice. Sums are added in a different order than
//! one product adds them, so answers differ from tract's in the last bits.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};

/// Input channels from which a convolution is split.
pub const MIN_CHANNELS: usize = 256;
/// Kernel area (3×3) from which a convolution is split.
pub const MIN_AREA: usize = 9;
/// Input channels per slice, at most.
pub const SLICE: usize = 64;

/// The slices of `cin` channels: at most [`SLICE`] each, sizes differing by one at most.
fn slices(cin: usize) -> Vec<std::ops::Range<usize>> {
    let n = cin.div_ceil(SLICE);
    (0..n).map(|i| i * cin / n..(i + 1) * cin / n).collect()
}

/// Channels `start..end` of `axis`, copied out. tract's own slice would be pushed up into the
/// layer before, splitting that layer's product too: on ResNet-50 that made the 1×1
/// convolutions feeding the split ones a quarter slower. This one stays where it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelSlice {
    pub axis: usize,
    pub start: usize,
    pub end: usize,
}

impl Op for ChannelSlice {
    fn name(&self) -> StaticName {
        "ChannelSlice".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "axis {}, {}..{}",
            self.axis, self.start, self.end
        )])
    }
    op_as_typed_op!();
}

impl EvalOp for ChannelSlice {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let out = inputs[0].slice(self.axis, self.start, self.end)?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for ChannelSlice {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        ensure!(
            self.axis < shape.len() && self.start < self.end,
            "ChannelSlice {self:?} of {:?}",
            inputs[0]
        );
        shape[self.axis] = (self.end - self.start).into();
        Ok(tvec!(inputs[0].datum_type.fact(shape)))
    }
}

/// A convolution to split: its node, its op, its input's channel axis and its kernel.
struct Deep {
    id: usize,
    conv: Conv,
    c_axis: usize,
    kernel: Arc<Tensor>,
}

/// The convolution at `node`, when it is split.
fn deep(model: &TypedModel, node: &TypedNode) -> TractResult<Option<Deep>> {
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let area: usize = conv.pool_spec.kernel_shape.iter().product();
    let cin = conv.input_channels();
    if conv.group != 1
        || conv.q_params.is_some()
        || conv.kernel_fmt != KernelFormat::OIHW
        || conv.pool_spec.kernel_shape.len() != 2
        || area < MIN_AREA
        || cin < MIN_CHANNELS
        || node.inputs.len() != 3
    {
        return Ok(None);
    }
    let input = model.outlet_fact(node.inputs[0])?;
    let Some(kernel) = model.outlet_fact(node.inputs[1])?.konst.clone() else {
        return Ok(None);
    };
    if input.datum_type != f32::datum_type()
        || kernel.datum_type() != f32::datum_type()
        || kernel.rank() < 2
        || kernel.shape()[1] != cin
    {
        return Ok(None);
    }
    let c_axis = conv.pool_spec.data_format.shape(&*input.shape)?.c_axis();
    Ok(Some(Deep {
        id: node.id,
        conv: conv.clone(),
        c_axis,
        kernel,
    }))
}

/// The first deep convolution left.
fn first_deep(model: &TypedModel) -> TractResult<Option<Deep>> {
    for node in model.nodes() {
        if let Some(d) = deep(model, node)? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// Split every deep convolution. Returns how many.
///
/// One at a time, looking again after each: a patch renumbers the nodes. Slices have fewer
/// than [`MIN_CHANNELS`] channels, so none is split again and this ends.
pub fn deep_convolutions(model: &mut TypedModel) -> TractResult<usize> {
    let mut count = 0;
    while let Some(Deep {
        id,
        conv,
        c_axis,
        kernel,
    }) = first_deep(model)?
    {
        let node = model.node(id);
        let name = node.name.clone();
        let cin = conv.input_channels();
        let mut patch = TypedModelPatch::default();
        let x = patch.tap_model(model, node.inputs[0])?;
        let bias = patch.tap_model(model, node.inputs[2])?;
        let zero = patch.add_const(format!("{name}.split.no_bias"), tensor0(0f32))?;
        let mut sum: Option<OutletId> = None;
        for (i, std::ops::Range { start, end }) in slices(cin).into_iter().enumerate() {
            let xs = patch.wire_node(
                format!("{name}.split{i}.input"),
                ChannelSlice {
                    axis: c_axis,
                    start,
                    end,
                },
                &[x],
            )?[0];
            let k = patch.add_const(
                format!("{name}.split{i}.kernel"),
                kernel.slice(1, start, end)?,
            )?;
            let mut op = conv.clone();
            op.pool_spec.input_channels = end - start;
            let b = if i == 0 { bias } else { zero };
            let y = patch.wire_node(format!("{name}.split{i}"), op, &[xs, k, b])?[0];
            sum = Some(match sum {
                None => y,
                Some(s) => patch.wire_node(
                    format!("{name}.split{i}.sum"),
                    tract_onnx::tract_core::ops::math::add(),
                    &[s, y],
                )?[0],
            });
        }
        let Some(out) = sum else {
            bail!("convolution {name} has no input channel to split");
        };
        super::finish(model, patch, id, out)?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
    use tract_onnx::tract_core::ops::nn::DataFormat;

    /// How the test convolutions lay out their input and bias.
    #[derive(Clone, Copy)]
    struct Layout {
        format: DataFormat,
        /// One bias per output channel, or one scalar for all.
        scalar_bias: bool,
    }

    const NCHW: Layout = Layout {
        format: DataFormat::NCHW,
        scalar_bias: false,
    };

    /// A k×k convolution (pad k/2) of `x` to `cout` channels, with a bias.
    fn wire_conv(
        m: &mut TypedModel,
        x: OutletId,
        name: &str,
        cout: usize,
        k: usize,
        l: Layout,
    ) -> OutletId {
        let fact = m.outlet_fact(x).unwrap().clone();
        let cin = l
            .format
            .shape(&*fact.shape)
            .unwrap()
            .c()
            .to_usize()
            .unwrap();
        let kn = cout * cin * k * k;
        // Positive weights and inputs: no cancellation, so the order of the sums shows only in
        // the last bits.
        let w: Vec<f32> = (0..kn).map(|i| ((i * 7919) % 101) as f32 / 5e3).collect();
        let w = Tensor::from_shape(&[cout, cin, k, k], &w).unwrap();
        let w = m.add_const(format!("{name}.w"), w).unwrap();
        let b = if l.scalar_bias {
            tensor0(0.25f32)
        } else {
            tensor1(&(0..cout).map(|i| i as f32 / 10.0).collect::<Vec<f32>>())
        };
        let b = m.add_const(format!("{name}.b"), b).unwrap();
        let spec = PoolSpec {
            data_format: l.format,
            kernel_shape: tvec![k, k],
            padding: PaddingSpec::Explicit(tvec![k / 2, k / 2], tvec![k / 2, k / 2]),
            dilations: None,
            strides: None,
            input_channels: cin,
            output_channels: cout,
        };
        let op = Conv {
            pool_spec: spec,
            kernel_fmt: KernelFormat::OIHW,
            group: 1,
            q_params: None,
        };
        m.wire_node(name, op, &[x, w, b]).unwrap()[0]
    }

    /// The input shape of `batch` maps of `cin` channels, hw × hw, in layout `l`.
    fn shape(l: Layout, batch: usize, cin: usize, hw: usize) -> Vec<usize> {
        match l.format {
            DataFormat::NCHW => vec![batch, cin, hw, hw],
            DataFormat::NHWC => vec![batch, hw, hw, cin],
            DataFormat::CHW => vec![cin, hw, hw],
            DataFormat::HWC => vec![hw, hw, cin],
        }
    }

    /// The input through convolutions to each of `couts` channels in turn.
    fn convs(input: &[usize], couts: &[usize], k: usize, l: Layout) -> TypedModel {
        let mut m = TypedModel::default();
        let mut y = m.add_source("x", f32::fact(input)).unwrap();
        for (i, cout) in couts.iter().enumerate() {
            y = wire_conv(&mut m, y, &format!("conv{i}"), *cout, k, l);
        }
        m.select_output_outlets(&[y]).unwrap();
        m
    }

    fn conv(cin: usize, cout: usize, k: usize, hw: usize) -> TypedModel {
        convs(&shape(NCHW, 1, cin, hw), &[cout], k, NCHW)
    }

    fn input(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let xs: Vec<f32> = (0..n).map(|i| ((i * 31) % 97) as f32 / 48.0).collect();
        Tensor::from_shape(shape, &xs).unwrap()
    }

    fn channels(m: &TypedModel) -> Vec<usize> {
        m.nodes()
            .iter()
            .filter_map(|n| n.op_as::<Conv>().map(|c| c.input_channels()))
            .collect()
    }

    #[test]
    fn slices_are_at_most_64_channels_and_as_even_as_the_count_allows() {
        for (cin, sizes) in [
            (256, vec![64; 4]),
            (300, vec![60; 5]),
            (257, vec![51, 51, 52, 51, 52]),
            (512, vec![64; 8]),
        ] {
            let s = slices(cin);
            assert_eq!(
                s.iter().map(|r| r.len()).collect::<Vec<_>>(),
                sizes,
                "{cin}"
            );
            assert_eq!((s[0].start, s[s.len() - 1].end), (0, cin));
            assert!(s.windows(2).all(|w| w[0].end == w[1].start), "{cin}");
            let lens = s.iter().map(|r| r.len());
            assert!(
                lens.clone().max().unwrap() - lens.min().unwrap() <= 1,
                "{cin}"
            );
        }
    }

    #[test]
    fn a_deep_convolution_answers_as_tracts_in_slices() {
        let (cin, cout, hw) = (300, 24, 7);
        let m = conv(cin, cout, 3, hw);
        let x = input(&shape(NCHW, 1, cin, hw));
        let want = crate::rewrite::run_on(m.clone(), &x);
        let mut ours = m;
        assert_eq!(deep_convolutions(&mut ours).unwrap(), 1);
        assert_eq!(channels(&ours), [60; 5]);
        let got = crate::rewrite::run_on(ours, &x);
        assert_eq!(got[0].shape(), want[0].shape());
        crate::rewrite::assert_close(&got[0], &want[0], "split convolution");
        // The bias is added once: a zero input gives the bias alone.
        let zeros = Tensor::zero::<f32>(&[1, cin, hw, hw]).unwrap();
        let mut ours = conv(cin, cout, 3, hw);
        deep_convolutions(&mut ours).unwrap();
        let got = crate::rewrite::run_on(ours, &zeros);
        let view = got[0].try_as_plain_ram().unwrap();
        let out = view.as_slice::<f32>().unwrap();
        assert_eq!(out[(cout - 1) * hw * hw], (cout - 1) as f32 / 10.0);
    }

    #[test]
    fn optimized_plans_answer_as_tracts_in_every_layout() {
        // Through tract's optimizer as the server runs it: its lowering of each slice, the
        // zero biases it drops, a batch of 2, uneven slices (257: 51 and 52 channels).
        for (l, batch, cin) in [
            (NCHW, 2, 257),
            (
                Layout {
                    format: DataFormat::NHWC,
                    scalar_bias: true,
                },
                2,
                300,
            ),
            (
                Layout {
                    format: DataFormat::CHW,
                    scalar_bias: false,
                },
                1,
                256,
            ),
            (
                Layout {
                    format: DataFormat::HWC,
                    scalar_bias: true,
                },
                1,
                260,
            ),
        ] {
            let sh = shape(l, batch, cin, 6);
            let m = convs(&sh, &[16], 3, l);
            let x = input(&sh);
            let run = |m: TypedModel| {
                m.into_optimized()
                    .and_then(|m| m.into_runnable())
                    .and_then(|p| p.run(tvec![x.clone().into_tvalue()]))
                    .unwrap_or_else(|e| panic!("{e:?}"))
            };
            let want = run(m.clone());
            let mut ours = m;
            assert_eq!(deep_convolutions(&mut ours).unwrap(), 1, "{sh:?}");
            let got = run(ours);
            assert_eq!(got[0].shape(), want[0].shape(), "{sh:?}");
            crate::rewrite::assert_close(&got[0], &want[0], &format!("{sh:?}"));
        }
    }

    #[test]
    fn every_deep_convolution_of_a_chain_is_split() {
        // 300 → 300 → 24 channels: both deep, found one after the other.
        let sh = shape(NCHW, 1, 300, 5);
        let m = convs(&sh, &[300, 24], 3, NCHW);
        let x = input(&sh);
        let want = crate::rewrite::run_on(m.clone(), &x);
        let mut ours = m;
        assert_eq!(deep_convolutions(&mut ours).unwrap(), 2);
        assert_eq!(channels(&ours), [60; 10]);
        let got = crate::rewrite::run_on(ours, &x);
        crate::rewrite::assert_close(&got[0], &want[0], "two split convolutions");
    }

    #[test]
    fn shallow_small_and_pointwise_convolutions_are_left_to_tract() {
        // 255 channels × 3×3 (2,295 deep); 600 × 2×2; 2,304 × 1×1: none is split.
        for (cin, k) in [(255, 3), (600, 2), (2304, 1)] {
            let mut m = conv(cin, 8, k, 5);
            assert_eq!(deep_convolutions(&mut m).unwrap(), 0, "{cin} {k}");
        }
    }
}
