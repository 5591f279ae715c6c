//! `patches`: the patch matrix of a channels-last 1-D convolution, packed from a transposed tile
//! of its input instead of one element at a time.
//!
//! tract lowers such a convolution to `Im2col` then a matrix product. Its `Im2col` reads the
//! input one element at a time at a stride of the channel count and hands each to a packing
//! writer that tracks panels and lanes. In magika (256 channels, a kernel of 5, 508 outputs)
//! that is 0.7 ms of its 6.3 ms inference. Here [`PackPatches`] writes the same packed panels:
//! per panel of the product's width it transposes the input rows the panel needs into a
//! channel-major tile that stays in L1, then every record of the panel is a copy from that
//! tile (a contiguous one when the stride is 1). Every value the product reads is the same
//! (where tract leaves a full panel's end-padding records unwritten, these are zeros), so the
//! product and the answers are bit for bit tract's.

use tract_linalg::mmm::{EagerPackedInput, MMMInputValue, PackedExoticFact, PackedMatrixStorage};
use tract_linalg::pack::PackedFormat;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::conv::Im2Col;

/// The shape of a 1-D convolution's patches: positions `x·stride + j·dilation` for
/// `j < kernel`, over `channels` channels (channels last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
}

impl Window {
    /// Output positions over an input of `len` positions (0 when the kernel does not fit).
    pub fn outputs(&self, len: usize) -> usize {
        let span = self.reads(1);
        if len < span {
            0
        } else {
            (len - span) / self.stride + 1
        }
    }

    /// Input positions that `outputs` consecutive outputs (at least one) read, from the
    /// first one's first.
    fn reads(&self, outputs: usize) -> usize {
        outputs.saturating_sub(1) * self.stride + self.kernel.saturating_sub(1) * self.dilation + 1
    }

    /// The depth of the product: one record per (channel, kernel tap), channel outer.
    pub fn depth(&self) -> usize {
        self.channels * self.kernel
    }
}

/// Pack the patches of `xs` (`len` positions × `w.channels`, position major) into `out`, in
/// panels of `r` outputs of `panel_len` values each (record `c·kernel + j` at `(c·kernel + j)·r`
/// in its panel). Every value of the `outputs.div_ceil(r)` panels is written: lanes past the
/// last output and the panels' ends are zeros.
pub fn pack(xs: &[f32], len: usize, w: Window, r: usize, panel_len: usize, out: &mut [f32]) {
    let outputs = w.outputs(len);
    let c = w.channels;
    // input positions a full panel reads
    let reach = w.reads(r);
    let mut tile = vec![0f32; c * reach];
    for (p, panel) in out
        .chunks_exact_mut(panel_len)
        .take(outputs.div_ceil(r))
        .enumerate()
    {
        let first = p * r;
        let lanes = r.min(outputs - first);
        let rows = w.reads(lanes);
        let from = first * w.stride;
        // tile[ch·reach + q] = input position from+q, channel ch
        for (q, row) in xs[from * c..(from + rows) * c].chunks_exact(c).enumerate() {
            for (t, v) in tile.chunks_exact_mut(reach).zip(row) {
                t[q] = *v;
            }
        }
        let (records, end) = panel.split_at_mut(w.depth() * r);
        for (t, records) in tile
            .chunks_exact(reach)
            .zip(records.chunks_exact_mut(w.kernel * r))
        {
            taps(t, records, w, r, lanes);
        }
        end.fill(0.0);
    }
}

/// One channel's records in a panel, its `kernel` taps of `r` lanes, from its row of the tile.
fn taps(t: &[f32], records: &mut [f32], w: Window, r: usize, lanes: usize) {
    if w.stride == 1 && lanes == r {
        // the common panel widths as constants: each record is a few vector moves
        match r {
            8 => return whole::<8>(t, records, w.dilation),
            12 => return whole::<12>(t, records, w.dilation),
            16 => return whole::<16>(t, records, w.dilation),
            24 => return whole::<24>(t, records, w.dilation),
            32 => return whole::<32>(t, records, w.dilation),
            48 => return whole::<48>(t, records, w.dilation),
            64 => return whole::<64>(t, records, w.dilation),
            _ => {}
        }
    }
    for (j, record) in records.chunks_exact_mut(r).enumerate() {
        let (record, rest) = record.split_at_mut(lanes);
        rest.fill(0.0);
        let src = &t[j * w.dilation..];
        if w.stride == 1 {
            record.copy_from_slice(&src[..lanes]);
        } else {
            for (l, d) in record.iter_mut().enumerate() {
                *d = src[l * w.stride];
            }
        }
    }
}

/// [`taps`] of a full panel `R` wide at stride 1.
fn whole<const R: usize>(t: &[f32], records: &mut [f32], dilation: usize) {
    for (j, record) in records.chunks_exact_mut(R).enumerate() {
        let at = j * dilation;
        record.copy_from_slice(&t[at..at + R]);
    }
}

/// tract's `Im2col` for an f32 channels-last 1-D convolution without padding or groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackPatches {
    pub window: Window,
    /// The product's packing of this operand (panel width, alignment, end padding).
    pub format: PackedFormat,
    /// Whether the input has a batch axis in front.
    pub batched: bool,
}

impl PackPatches {
    /// (batches when there is a batch axis, positions) of an input of `shape`.
    fn extent<D: Clone>(&self, shape: &[D]) -> TractResult<(Option<D>, D)> {
        match (self.batched, shape) {
            (true, [n, len, _]) => Ok((Some(n.clone()), len.clone())),
            (false, [len, _]) => Ok((None, len.clone())),
            _ => bail!("PackPatches: unexpected input rank {}", shape.len()),
        }
    }

    fn fact(&self, mn: TDim) -> PackedExoticFact {
        PackedExoticFact {
            format: Box::new(self.format.clone()),
            mn,
            k: self.window.depth(),
        }
    }
}

impl Op for PackPatches {
    fn name(&self) -> StaticName {
        "PackPatches".into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?} into {:?}", self.window, self.format)])
    }
    op_as_typed_op!();
}

impl EvalOp for PackPatches {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = &inputs[0];
        let c = self.window.channels;
        ensure!(
            input.shape().last() == Some(&c),
            "PackPatches: {c} channels expected, input is {:?}",
            input.shape()
        );
        let (batches, len) = self.extent(input.shape())?;
        let batches = batches.unwrap_or(1);
        let view = input.try_as_plain_ram()?;
        let xs = view.as_slice::<f32>()?;
        let mn = self.window.outputs(len);
        let k = self.window.depth();
        let r = self.format.r;
        let panel_len = self.format.single_panel_len(k);
        let mut values: TVec<Box<dyn MMMInputValue>> = TVec::with_capacity(batches);
        for b in 0..batches {
            let size = mn.div_ceil(r) * panel_len;
            // SAFETY: f32 has no invalid bit patterns, and `pack` writes every value of the
            // `mn.div_ceil(r)` panels before anything reads them.
            let mut data = unsafe {
                Tensor::uninitialized_aligned_dt(
                    f32::datum_type(),
                    &[size],
                    self.format.alignment(),
                )?
            };
            {
                let mut view = data.try_as_plain_ram_mut()?;
                let out = view.as_slice_mut::<f32>()?;
                pack(
                    &xs[b * len * c..(b + 1) * len * c],
                    len,
                    self.window,
                    r,
                    panel_len,
                    out,
                );
            }
            values.push(Box::new(EagerPackedInput {
                fact: self.fact(mn.into()),
                packed: data.into_blob()?.into(),
                panel_bytes: if mn > 0 {
                    panel_len * size_of::<f32>()
                } else {
                    0
                },
                mn,
            }));
        }
        let storage = PackedMatrixStorage::new_batched(&[batches, 1], values);
        Ok(tvec!(storage.into_tensor(f32::datum_type()).into_tvalue()))
    }
}

impl TypedOp for PackPatches {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = inputs[0].shape.to_tvec();
        let (batches, len) = self.extent(&shape)?;
        let batches = batches.unwrap_or_else(|| 1.into());
        let len = len.to_usize()?;
        Ok(tvec!(f32::fact([batches, 1.into()]).with_exotic_fact(
            self.fact(self.window.outputs(len).into())
        )))
    }
}

/// The [`PackPatches`] that computes what `node` does, when it is an `Im2col` this covers.
fn covered(model: &TypedModel, node: &TypedNode) -> TractResult<Option<PackPatches>> {
    let Some(im) = node.op_as::<Im2Col>() else {
        return Ok(None);
    };
    let spec = &im.pool_spec;
    let input = model.outlet_fact(node.inputs[0])?;
    let Some(shape) = input.shape.as_concrete() else {
        return Ok(None);
    };
    let batched = spec.data_format.has_n();
    if im.group != 1
        || !spec.data_format.c_is_last()
        || spec.kernel_shape.len() != 1
        || input.datum_type != f32::datum_type()
        || !input.is_plain()
        || shape.len() != if batched { 3 } else { 2 }
    {
        return Ok(None);
    }
    let len = shape[shape.len() - 2];
    let padding = spec.computed_padding(&[len]);
    if padding
        .iter()
        .any(|p| p.pad_before != 0 || p.pad_after != 0)
    {
        return Ok(None);
    }
    let window = Window {
        channels: shape[shape.len() - 1],
        kernel: spec.kernel_shape[0],
        stride: spec.stride(0),
        dilation: spec.dilation(0),
    };
    let fact = model.outlet_fact(OutletId::new(node.id, 0))?;
    let Some(packed) = fact
        .exotic_fact()
        .and_then(|f| f.downcast_ref::<PackedExoticFact>())
    else {
        return Ok(None);
    };
    let Some(format) = packed.format.downcast_ref::<PackedFormat>() else {
        return Ok(None);
    };
    let fits = window.kernel > 0
        && window.stride > 0
        && window.dilation > 0
        && format.dt == f32::datum_type()
        && format.r > 0
        && packed.k == window.depth()
        && packed.mn.to_usize().ok() == Some(window.outputs(len))
        && window.outputs(len) > 0;
    Ok(fits.then(|| PackPatches {
        window,
        format: format.clone(),
        batched,
    }))
}

fn first_covered(model: &TypedModel) -> TractResult<Option<(usize, PackPatches)>> {
    for node in model.nodes() {
        if let Some(op) = covered(model, node)? {
            return Ok(Some((node.id, op)));
        }
    }
    Ok(None)
}

/// Replace the `Im2col`s of f32 channels-last 1-D convolutions without padding or groups by
/// [`PackPatches`]. Runs on the optimized model. Returns how many.
pub fn packed_patches(model: &mut TypedModel) -> TractResult<usize> {
    let mut n = 0;
    // one at a time: a replacement renumbers the nodes
    while let Some((id, op)) = first_covered(model)? {
        let input = model.node(id).inputs[0];
        tracing::debug!(node = %model.node(id).name, window = ?op.window, format = ?op.format, "patches packed from tiles");
        super::stand_in(model, input, id, "patches", op)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
#[path = "patches/tests.rs"]
mod tests;
