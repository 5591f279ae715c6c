//! `shallow`: a 2-D convolution whose matrix product is shallow, input channels × kernel area
//! at most [`MAX_DEPTH`] (an image network's first layer: SqueezeNet's is 3 channels × 3×3,
//! 27 deep, to 64 channels over 111×111 positions), becomes [`ShallowConv`], computed
//! directly one output row at a time.
//!
//! tract lowers such a convolution to a matrix product as it does every other, and at a depth
//! of 27 its product runs far below the core's speed: SqueezeNet's first layer took about 2.4
//! of its 11 ms (18 GFLOP/s; its other products run at 50-170). Here each output row gathers
//! its patches into a small buffer (depth × row width, in the first-level cache), then a
//! register tile of output channels × output positions sums the depth with one vector
//! multiply-add per weight, and the bias, and a ReLU that alone reads the convolution, are
//! applied as the values are written: about 1.0 ms for that layer and its ReLU on the Xeon
//! measured (0.2 of it gathering), against 2.4 + 0.14.
//!
//! The tile is compiled for AVX-512 and for AVX2 with FMA ([`Kernel`]); the widest the CPU has
//! is chosen when the op runs, so the default build uses vector multiply-adds without requiring
//! them. On a CPU with neither the rewrite is not taken (the plain tile, the tests' reference,
//! is slower than tract). Only the plain case is taken: one group, f32 input and constant f32
//! weights and bias, OIHW, channels before the spatial axes, a concrete input shape, at least
//! one output position. Sums run in depth order, not in the order of tract's product, so
//! answers differ from tract's in the last bits.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat};
use tract_onnx::tract_core::ops::konst::Const;

mod kernel;

pub use kernel::Kernel;
use kernel::{Row, gather, run};

/// Depth (input channels × kernel area) up to which a convolution is computed directly.
pub const MAX_DEPTH: usize = 64;
/// The packed weights pad output channels to a multiple of this (every tile's height divides it).
const CO_ALIGN: usize = 8;

/// Where a [`ShallowConv`]'s windows fall: all per spatial axis, rows then columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    pub cin: usize,
    pub cout: usize,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Padding before the first row and column.
    pub pad: [usize; 2],
    pub input: [usize; 2],
    pub out: [usize; 2],
}

impl Geometry {
    fn depth(&self) -> usize {
        self.cin * self.kernel[0] * self.kernel[1]
    }
    fn cout_padded(&self) -> usize {
        self.cout.div_ceil(CO_ALIGN) * CO_ALIGN
    }
}

/// A convolution computed directly. The input is [N, C, H, W] or [C, H, W].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShallowConv {
    pub geo: Geometry,
    /// [depth, output channels padded to [`CO_ALIGN`]], zero past the last channel; depth is
    /// (input channel, kernel row, kernel column) in that order.
    pub weights: Arc<Tensor>,
    /// One per output channel.
    pub bias: Arc<Tensor>,
    /// Followed by a ReLU, applied as the values are written.
    pub relu: bool,
}

impl ShallowConv {
    /// The convolution of `input` ([N, C, H, W] or [C, H, W]) with `kernel`.
    pub fn compute(&self, input: &Tensor, kernel: Kernel) -> TractResult<Tensor> {
        let g = &self.geo;
        let shape = input.shape();
        let r = shape.len();
        let [h, w] = g.input;
        let [oh, ow] = g.out;
        if !(3..=4).contains(&r) || shape[r - 3] != g.cin || shape[r - 2..] != [h, w] {
            bail!("ShallowConv over {g:?} got an input of shape {shape:?}");
        }
        let view = input.try_as_plain_ram()?;
        let xs = view.as_slice::<f32>()?;
        let depth = g.depth();
        if self.weights.len() != depth * g.cout_padded() || self.bias.len() != g.cout {
            bail!("ShallowConv over {g:?}: packed weights or bias of the wrong size");
        }
        // Every kernel's width is a multiple of the plain one's, which `run` falls back to; a
        // tile past the row's end is skipped.
        let npad = ow.div_ceil(kernel.width()) * kernel.width();
        let mut patches = vec![0f32; depth * npad];
        let mut out_shape = shape.to_vec();
        out_shape[r - 3] = g.cout;
        out_shape[r - 2] = oh;
        out_shape[r - 1] = ow;
        // tract's allocation, not a Vec's: a fresh 3 MB Vec per run was mapped anew and
        // faulted in page by page (about 1,500 faults a run on SqueezeNet, 2 ms), in some
        // processes.
        let mut tensor = Tensor::zero::<f32>(&out_shape)?;
        self.fill(xs, &mut tensor, kernel, npad, &mut patches)?;
        Ok(tensor)
    }

    /// Write the convolution of `xs` (whole images) into `tensor`.
    fn fill(
        &self,
        xs: &[f32],
        tensor: &mut Tensor,
        kernel: Kernel,
        npad: usize,
        patches: &mut [f32],
    ) -> TractResult<()> {
        let g = &self.geo;
        let ([h, w], [oh, ow]) = (g.input, g.out);
        let (weights, bias) = (
            self.weights.try_as_plain_ram()?,
            self.bias.try_as_plain_ram()?,
        );
        let (weights, bias) = (weights.as_slice::<f32>()?, bias.as_slice::<f32>()?);
        let coutp = g.cout_padded();
        let mut view = tensor.try_as_plain_ram_mut()?;
        let out = view.as_slice_mut::<f32>()?;
        for (x, o) in xs
            .chunks_exact(g.cin * h * w)
            .zip(out.chunks_exact_mut(g.cout * oh * ow))
        {
            for oy in 0..oh {
                gather(x, g, oy, npad, patches);
                let mut row = Row {
                    patches,
                    npad,
                    weights,
                    coutp,
                    bias,
                    out: o,
                    oy,
                    oh,
                    ow,
                    relu: self.relu,
                };
                run(kernel, &mut row);
            }
        }
        Ok(())
    }
}

impl Op for ShallowConv {
    fn name(&self) -> StaticName {
        "ShallowConv".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        let g = &self.geo;
        Ok(vec![format!(
            "{} → {} channels, kernel {:?}, strides {:?}, dilations {:?}, pad {:?}{}",
            g.cin,
            g.cout,
            g.kernel,
            g.strides,
            g.dilations,
            g.pad,
            if self.relu { ", ReLU" } else { "" }
        )])
    }
    op_as_typed_op!();
}

impl EvalOp for ShallowConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let out = self.compute(&inputs[0], Kernel::best())?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for ShallowConv {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        let r = shape.len();
        ensure!((3..=4).contains(&r), "ShallowConv of {:?}", inputs[0]);
        shape[r - 3] = self.geo.cout.into();
        shape[r - 2] = self.geo.out[0].into();
        shape[r - 1] = self.geo.out[1].into();
        Ok(tvec!(f32::fact(shape)))
    }
}

/// Two values of a per-axis list, when it has two.
fn pair(v: &[usize]) -> Option<[usize; 2]> {
    match v {
        [a, b] => Some([*a, *b]),
        _ => None,
    }
}

/// The [`ShallowConv`] that does what `node` (a tract `Conv`) does, when it is the plain case.
fn direct(model: &TypedModel, node: &TypedNode) -> TractResult<Option<ShallowConv>> {
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let spec = &conv.pool_spec;
    let (cin, cout) = (conv.input_channels(), conv.output_channels());
    let area: usize = spec.kernel_shape.iter().product();
    if conv.group != 1
        || conv.q_params.is_some()
        || conv.kernel_fmt != KernelFormat::OIHW
        || spec.data_format.c_is_last()
        || node.inputs.len() != 3
        || cin * area > MAX_DEPTH
        || cout == 0
    {
        return Ok(None);
    }
    let (Some(kernel), Some(strides), Some(dilations)) = (
        pair(&spec.kernel_shape),
        pair(&spec.strides()),
        pair(&spec.dilations()),
    ) else {
        return Ok(None);
    };
    let fact = model.outlet_fact(node.inputs[0])?;
    let Some(shape) = fact.shape.as_concrete() else {
        return Ok(None);
    };
    let rank = if spec.data_format.has_n() { 4 } else { 3 };
    if fact.datum_type != f32::datum_type()
        || shape.len() != rank
        || shape[rank - 3] != cin
        || shape.contains(&0)
    {
        return Ok(None);
    }
    let (Some(w), Some(b)) = (
        model.outlet_fact(node.inputs[1])?.konst.clone(),
        model.outlet_fact(node.inputs[2])?.konst.clone(),
    ) else {
        return Ok(None);
    };
    if w.datum_type() != f32::datum_type()
        || w.shape() != [cout, cin, kernel[0], kernel[1]]
        || b.datum_type() != f32::datum_type()
        || !(b.len() == 1 || b.len() == cout)
    {
        return Ok(None);
    }
    let hw = &shape[rank - 2..];
    let padded = spec.computed_padding(hw);
    if padded.iter().any(|p| p.convoluted == 0) {
        return Ok(None);
    }
    let geo = Geometry {
        cin,
        cout,
        kernel,
        strides,
        dilations,
        pad: [padded[0].pad_before, padded[1].pad_before],
        input: [hw[0], hw[1]],
        out: [padded[0].convoluted, padded[1].convoluted],
    };
    let (depth, coutp) = (geo.depth(), geo.cout_padded());
    // Constants not held as plain f32 memory are left to tract.
    let (Ok(wv), Ok(bv)) = (w.try_as_plain_ram(), b.try_as_plain_ram()) else {
        return Ok(None);
    };
    let (Ok(wv), Ok(bv)) = (wv.as_slice::<f32>(), bv.as_slice::<f32>()) else {
        return Ok(None);
    };
    // OIHW is [cout][depth]: transpose into [depth][coutp].
    let mut packed = vec![0f32; depth * coutp];
    for (co, row) in wv.chunks_exact(depth).enumerate() {
        for (k, v) in row.iter().enumerate() {
            packed[k * coutp + co] = *v;
        }
    }
    let bias: Vec<f32> = (0..cout).map(|co| bv[co % bv.len()]).collect();
    Ok(Some(ShallowConv {
        geo,
        weights: Tensor::from_shape(&[depth, coutp], &packed)?.into_arc_tensor(),
        bias: tensor1(&bias).into_arc_tensor(),
        relu: false,
    }))
}

/// Compute every shallow convolution directly. Returns how many: none on a CPU without AVX2
/// and FMA, where the plain tile would be slower than tract.
pub fn shallow_convolutions(model: &mut TypedModel) -> TractResult<usize> {
    if Kernel::best() == Kernel::Plain {
        return Ok(0);
    }
    replace_all(model)
}

/// Replace every shallow convolution, whatever the CPU (the tests run every kernel).
fn replace_all(model: &mut TypedModel) -> TractResult<usize> {
    let mut count = 0;
    loop {
        let mut found = None;
        for node in model.nodes() {
            if let Some(op) = direct(model, node)? {
                found = Some((node.id, node.inputs[0], op));
                break;
            }
        }
        let Some((id, x, mut op)) = found else {
            return Ok(count);
        };
        let end = match relu_after(model, id)? {
            Some(relu) => {
                op.relu = true;
                relu
            }
            None => id,
        };
        super::stand_in(model, x, end, "shallow", op)?;
        count += 1;
    }
}

/// The ReLU (`max(x, 0)`) that alone reads the output of node `id`, when there is one and that
/// output is not also the model's.
fn relu_after(model: &TypedModel, id: usize) -> TractResult<Option<usize>> {
    let out = OutletId::new(id, 0);
    let succ = &model.node(id).outputs[0].successors;
    if succ.len() != 1 || model.output_outlets()?.contains(&out) {
        return Ok(None);
    }
    let next = model.node(succ[0].node);
    let is_max = next
        .op_as::<TypedBinOp>()
        .is_some_and(|b| b.0.name() == "Max");
    if !is_max || next.inputs.len() != 2 {
        return Ok(None);
    }
    let other = if next.inputs[0] == out {
        next.inputs[1]
    } else {
        next.inputs[0]
    };
    let zero = model.node(other.node).op_as::<Const>().is_some_and(|c| {
        c.val().len() == 1 && c.val().cast_to_scalar::<f32>().is_ok_and(|v| v == 0.0)
    });
    let same_shape = next.outputs[0].fact.shape == model.outlet_fact(out)?.shape;
    Ok(
        (zero && same_shape && next.outputs[0].fact.datum_type == f32::datum_type())
            .then_some(next.id),
    )
}

#[cfg(test)]
mod tests;
