//! The tile that sums a [`super::ShallowConv`]'s depth, compiled for AVX-512, for AVX2 with
//! FMA and plainly, and the gathering of one output row's patches.

use super::Geometry;

/// A compiled form of the tile, by the widest instructions it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Plain,
    Avx2,
    Avx512,
}

impl Kernel {
    /// Output positions per tile; the patch rows are padded to a multiple of it.
    pub(super) fn width(self) -> usize {
        match self {
            Kernel::Plain => 8,
            Kernel::Avx2 => 24,
            Kernel::Avx512 => 32,
        }
    }

    /// The kernels this CPU can run, plain first.
    pub fn available() -> Vec<Kernel> {
        let mut ks = vec![Kernel::Plain];
        #[cfg(target_arch = "x86_64")]
        {
            if avx2() {
                ks.push(Kernel::Avx2);
            }
            if avx512() {
                ks.push(Kernel::Avx512);
            }
        }
        ks
    }

    /// The widest kernel this CPU can run (asked at every inference: no list is built).
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if avx512() {
                return Kernel::Avx512;
            }
            if avx2() {
                return Kernel::Avx2;
            }
        }
        Kernel::Plain
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    avx2() && is_x86_feature_detected!("avx512f")
}

/// One output row's work: its patches, the weights, and where its values go.
pub(super) struct Row<'a> {
    /// [depth, npad]: for each depth index, the input value under each output position.
    pub(super) patches: &'a [f32],
    pub(super) npad: usize,
    /// [depth, coutp].
    pub(super) weights: &'a [f32],
    pub(super) coutp: usize,
    pub(super) bias: &'a [f32],
    /// The image's output, [cout, oh, ow].
    pub(super) out: &'a mut [f32],
    pub(super) oy: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    /// Values below zero become zero (a ReLU after the convolution).
    pub(super) relu: bool,
}

/// Sum the depth for every tile of `MR` output channels × `NR` output positions of the row,
/// in plain arithmetic: the fallback, and the reference the vector kernels are tested against.
fn tiles<const MR: usize, const NR: usize>(j: &mut Row) {
    let cout = j.bias.len();
    for cb in (0..j.coutp).step_by(MR) {
        // Tiles wholly past the row's end (when it was padded for a wider kernel) are skipped.
        for xb in (0..j.npad).step_by(NR).take_while(|xb| *xb < j.ow) {
            let mut acc = [[0f32; NR]; MR];
            for (prow, wrow) in j
                .patches
                .chunks_exact(j.npad)
                .zip(j.weights.chunks_exact(j.coutp))
            {
                let p = &prow[xb..xb + NR];
                let w = &wrow[cb..cb + MR];
                for r in 0..MR {
                    for c in 0..NR {
                        acc[r][c] += p[c] * w[r];
                    }
                }
            }
            let n = NR.min(j.ow - xb);
            for (r, a) in acc.iter().enumerate() {
                let co = cb + r;
                if co >= cout {
                    break;
                }
                let b = j.bias[co];
                let at = (co * j.oh + j.oy) * j.ow + xb;
                for (d, v) in j.out[at..at + n].iter_mut().zip(a) {
                    *d = if j.relu { (v + b).max(0.0) } else { v + b };
                }
            }
        }
    }
}

/// [`tiles`] with explicit vectors: `$mr` output channels × `$nv` vectors of `$lanes`
/// positions, the accumulators in registers.
macro_rules! simd_tiles {
    ($name:ident, $feat:literal, $lanes:literal, $nv:literal, $mr:literal,
     $zero:ident, $load:ident, $store:ident, $set1:ident, $fma:ident, $add:ident, $max:ident) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $feat)]
        fn $name(j: &mut Row) {
            use std::arch::x86_64::*;
            const NR: usize = $lanes * $nv;
            let cout = j.bias.len();
            for cb in (0..j.coutp).step_by($mr) {
                for xb in (0..j.npad).step_by(NR).take_while(|xb| *xb < j.ow) {
                    let mut acc = [[$zero(); $nv]; $mr];
                    for (prow, wrow) in j
                        .patches
                        .chunks_exact(j.npad)
                        .zip(j.weights.chunks_exact(j.coutp))
                    {
                        let p = &prow[xb..xb + NR];
                        let w = &wrow[cb..cb + $mr];
                        let mut pv = [$zero(); $nv];
                        for i in 0..$nv {
                            // SAFETY: `p` holds NR = lanes × nv values; this reads the i-th
                            // `lanes` of them.
                            pv[i] = unsafe { $load(p.as_ptr().add(i * $lanes)) };
                        }
                        for r in 0..$mr {
                            let wv = $set1(w[r]);
                            for i in 0..$nv {
                                acc[r][i] = $fma(pv[i], wv, acc[r][i]);
                            }
                        }
                    }
                    let n = NR.min(j.ow - xb);
                    for r in 0..$mr {
                        let co = cb + r;
                        if co >= cout {
                            break;
                        }
                        let b = $set1(j.bias[co]);
                        let at = (co * j.oh + j.oy) * j.ow + xb;
                        let mut vals = [0f32; NR];
                        // A whole tile goes straight to the output, a cut one through `vals`.
                        let dst = if n == NR {
                            &mut j.out[at..at + NR]
                        } else {
                            &mut vals[..]
                        };
                        for i in 0..$nv {
                            let mut v = $add(acc[r][i], b);
                            if j.relu {
                                v = $max(v, $zero());
                            }
                            // SAFETY: `dst` holds NR values; this writes the i-th `lanes`.
                            unsafe { $store(dst.as_mut_ptr().add(i * $lanes), v) };
                        }
                        if n < NR {
                            for (d, v) in j.out[at..at + n].iter_mut().zip(&vals) {
                                *d = *v;
                            }
                        }
                    }
                }
            }
        }
    };
}

simd_tiles!(
    tiles_avx2,
    "avx2,fma",
    8,
    3,
    4,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_max_ps
);
simd_tiles!(
    tiles_avx512,
    "avx512f,avx2,fma",
    16,
    2,
    8,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_max_ps
);

/// Run the row with `kernel` when the CPU has it, else plainly (the patch rows are padded to a
/// multiple of every kernel's width, so any kernel can take any row).
pub(super) fn run(kernel: Kernel, j: &mut Row) {
    #[cfg(target_arch = "x86_64")]
    match kernel {
        // SAFETY: the CPU has AVX-512F, AVX2 and FMA: checked in the guard.
        Kernel::Avx512 if avx512() => return unsafe { tiles_avx512(j) },
        // SAFETY: the CPU has AVX2 and FMA: checked in the guard.
        Kernel::Avx2 if avx2() => return unsafe { tiles_avx2(j) },
        _ => {}
    }
    let _ = kernel;
    tiles::<4, 8>(j)
}

/// For output row `oy` of one image `x` [cin, h, w]: each depth index's input values under
/// the row's output positions, zero where the window is over padding and past `ow`.
pub(super) fn gather(x: &[f32], g: &Geometry, oy: usize, npad: usize, patches: &mut [f32]) {
    let [h, w] = g.input;
    let ow = g.out[1];
    let mut rows = patches.chunks_exact_mut(npad);
    for c in 0..g.cin {
        for ky in 0..g.kernel[0] {
            let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize - g.pad[0] as isize;
            let src = (0..h as isize)
                .contains(&iy)
                .then(|| &x[(c * h + iy as usize) * w..][..w]);
            for kx in 0..g.kernel[1] {
                let Some(dst) = rows.next() else {
                    return;
                };
                let Some(src) = src else {
                    dst.fill(0.0);
                    continue;
                };
                // Output positions whose column ox·s + off falls inside the row.
                let (s, off) = (g.strides[1] as isize, (kx * g.dilations[1]) as isize);
                let off = off - g.pad[1] as isize;
                let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
                let hi = if (w as isize) > off {
                    ((w as isize - off + s - 1) / s).min(ow as isize)
                } else {
                    0
                };
                let lo = lo.min(ow as isize) as usize;
                let hi = (hi.max(0) as usize).max(lo);
                dst[..lo].fill(0.0);
                let start = (lo as isize * s + off).max(0) as usize;
                for (d, v) in dst[lo..hi]
                    .iter_mut()
                    .zip(src[start.min(w)..].iter().step_by(s as usize))
                {
                    *d = *v;
                }
                dst[hi..].fill(0.0);
            }
        }
    }
}
