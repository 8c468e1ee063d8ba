"""Copies of the AMX direct-conv microkernel timed against it (RESULTS.md 199).

What the epilogue of amx/conv_direct_32x32c4.cc costs, split by kind of work,
and two candidate changes, each alternated with the kernel in one process by
spatial60_probe.py's harness (benchmarks/amxspatial_ukernel.cc, thread CPU
medians; printed: the kernel's time and %peak, then each copy's time over the
kernel's). Copies:
  same       an identical copy: the spread that code placement alone gives
  noepi      no epilogue (rows_to returns at once)
  regonly    the epilogue's arithmetic only: accumulators from registers, each
             row stored to a local line (no load, no output store)
  noload     accumulators from registers, rows stored to the output
  nostore    accumulators loaded, rows stored to a local line
  pre_store  the previous job's C tiles stored one by one just before this
             job's first product into each (oneDNN's jit_brgemm_amx_uker
             "pre-tilestore"), not all four after the last product
  pairs      the kernel of commit 940c454d: rows requantized in pairs with
             the clamp on the narrowed bytes (amx/requant_rows2.h)
  arith_reg  the row's arithmetic (as store_requantized_row<2>, no residual)
             on register inputs, the result xor-ed into a register: no load,
             no store
  arith_nocvt  the same with its two conversions (cvtdq2ps, cvtps2dq) replaced
             by an OR / a cast
  vec16      16 independent zmm mul / add per row and nothing else
  vec16_store  the same plus one 64-byte store per row to a local line
  steps_half / steps_all / steps_3q / steps_q  (section 207) the previous
             job's rows spread evenly over the first half (the kernel before
             section 207) / all / the first three quarters / the first quarter
             of the next job's (tap, chunk) steps (the kernel: at most 4 a
             step where the first half would take more)
  rows3 / rows4 / rows5  N rows a step (at least 32 / steps), from the first
  magic      the row with both conversions as magic-number adds (int32 ->
             float exact only for |acc| < 2^22; float -> int32 after the
             clamp, round half to even, exact)
Timing only: the removal copies compute wrong values by design; pairs,
pre_store and magic were not kept (pairs passed the direct-conv tests in the
library; pre_store and magic were never value-checked).

Usage (repository root, a git checkout; g++ with AMX flags; an AMX-INT8 CPU):
    python benchmarks/r50x3_probe.py [--variants a b ...] [--peak GOPS]
        [--shapes "C H K R stride batch" ...] [--out DIR]
(U8_OUT=1 in the environment: outputs as u8 codes, as ResNet-50's.)
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spatial60_probe as sp  # noqa: E402  (its harness and flags)

PAIRS_COMMIT = "940c454d"
LOAD = "const __m512i v[2] = {_mm512_load_si512(acc + 32 * i), _mm512_load_si512(acc + 32 * i + 16)};"
REG_LOAD = "const __m512i v[2] = {_mm512_set1_epi32(i), _mm512_set1_epi32(static_cast<int>(o))};"
STORE = """      ep512::store_requantized_row<2>(v, ce, n, res ? res + o * res_stride : nullptr, res_scale, lo, hi,
                                      y + o * y_stride, flip, res_flip);"""
SINK_STORE = """      alignas(64) int8_t sink[64];
      ep512::store_requantized_row<2>(v, ce, n, res ? res + o * res_stride : nullptr, res_scale, lo, hi,
                                      sink, flip, res_flip);
      __asm__ volatile("" :: "m"(sink));"""
NO_EPI = ("  void rows_to(int end) {\n", "  void rows_to(int end) {\n    return;\n")
ROWS_TO = "  void rows_to(int end) {\n"
STEP_LINE = "const int over = steps > 14 ? (steps + 1) / 2 : steps < 8 ? steps : 8;  // steps the rows take\n  const int step = (32 + over - 1) / over;"
# arith_reg: the arithmetic, its result kept live in `keep` (one asm use per call).
ARITH = """      {
        __m512i q0 = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(
            _mm512_cvtepi32_ps(v[0]), ce[0].scale), ce[0].bias), lo), hi));
        __m512i q1 = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_add_ps(_mm512_mul_ps(
            _mm512_cvtepi32_ps(v[1]), ce[1].scale), ce[1].bias), lo), hi));
        const __m512i z = _mm512_setzero_si512();
        const __m512i bb = _mm512_packs_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(z, z));
        const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
        keep = _mm512_xor_si512(keep, _mm512_xor_si512(_mm512_permutexvar_epi32(order, bb), flip));
      }"""
LOOP = "    int i = i_, ow = ow_;\n    int64_t oh = oh_;\n    for (; i < end; ++i, ++ow) {"
LOOP_END = "    i_ = i;\n    ow_ = ow;\n    oh_ = oh;\n  }\n\n  void row("
KEEP = [(LOOP, "    __m512i keep = _mm512_setzero_si512();\n" + LOOP),
        (LOOP_END, '    __asm__ volatile("" :: "v"(keep));\n' + LOOP_END)]
NO_CVT = [("_mm512_cvtps_epi32(_mm512_min_ps", "_mm512_castps_si512(_mm512_min_ps")] + [
    (f"_mm512_cvtepi32_ps(v[{j}])", f"_mm512_castsi512_ps(_mm512_or_si512(v[{j}], _mm512_set1_epi32(0x3f800000)))")
    for j in (0, 1)]


def vec16(store: str) -> str:
    return ROWS_TO + """    if (end > rows_) end = rows_;
    __m512 a = _mm512_set1_ps(1.0f + i_), b = _mm512_set1_ps(2.0f), c = _mm512_set1_ps(3.0f), d = a;
    const __m512 m = _mm512_set1_ps(1.0001f);
    alignas(64) float line[16];
    for (; i_ < end; ++i_) {
      for (int k = 0; k < 4; ++k) {
        a = _mm512_mul_ps(a, m); b = _mm512_mul_ps(b, m); c = _mm512_add_ps(c, m); d = _mm512_add_ps(d, m);
      }
      STORE
    }
    __asm__ volatile("" :: "v"(a), "v"(b), "v"(c), "v"(d));
    return;
""".replace("STORE", store)


MAGIC_ROW = """
// store_requantized_row<2> with the conversions as magic-number adds (timing).
inline void magic_row(const __m512i* acc, const ep512::ChannelEpilogue* ce, int nc, const int8_t* res,
                      float residual_scale, __m512 lo, __m512 hi, int8_t* y, __m512i flip, __m128i res_flip) {
  const __m512i mbits = _mm512_set1_epi32(0x4B400000);  // 1.5 * 2^23
  const __m512 mf = _mm512_set1_ps(12582912.0f);
  __m512i q[2];
  for (int j = 0; j < 2; ++j) {
    __m512 t = _mm512_sub_ps(_mm512_castsi512_ps(_mm512_add_epi32(acc[j], mbits)), mf);
    t = _mm512_add_ps(_mm512_mul_ps(t, ce[j].scale), ce[j].bias);
    if (res) {
      const __m128i r8 = _mm_xor_si128(_mm_maskz_loadu_epi8(ce[j].m, res + 16 * j), res_flip);
      t = _mm512_add_ps(t, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(r8)), _mm512_set1_ps(residual_scale)));
    }
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    q[j] = _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(t, mf)), mbits);
  }
  const __m512i z = _mm512_setzero_si512();
  const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(z, z));
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __mmask64 m = nc >= 64 ? ~__mmask64{0} : (__mmask64{1} << nc) - 1;
  _mm512_mask_storeu_epi8(y, m, _mm512_xor_si512(_mm512_permutexvar_epi32(order, b), flip));
}

// The epilogue of one job"""

# pre_store: issue_dots .. strip replaced (from the kernel's issue_dots comment
# to the end of its anonymous namespace).
PRE_STORE = r'''// The previous job: its tiles (0 none, 2: tiles 0 / 2, 4: all four), stored
// to acc just before this job's first product into each.
struct PrevJob {
  int tiles = 0;
  int64_t p0 = 0;
  int c0 = 0, n = 0;
};

template <bool kU8, bool kTwo>
void issue_dots(const AmxConvStrip& s, const int8_t* a, const int8_t* w, const int32_t* init, Pending& pending,
                int step, int32_t* acc, const PrevJob& prev) {
  const int64_t stride = s.pixel_stride;
  const int8_t* w1 = w + s.w_block_stride;
  for (int t = 0; t < s.taps; ++t) {
    const int8_t* at = a + s.tap_offset[t];
    for (int kc = 0; kc < s.cchunks; ++kc) {
      const bool first = t == 0 && kc == 0;
      INT8RT_TILE_LOADD(4, at + 64 * kc, stride);
      INT8RT_TILE_LOADD(6, w, 64);
      if (first) {
        if (prev.tiles) INT8RT_TILE_STORED(0, acc, kAccStride);
        INT8RT_DIRECT_START(0, init);
      }
      INT8RT_DIRECT_DOT(0, 4, 6);
      INT8RT_TILE_LOADD(5, at + 16 * stride + 64 * kc, stride);
      if (first) {
        if (prev.tiles) INT8RT_TILE_STORED(2, acc + 16 * 32, kAccStride);
        INT8RT_DIRECT_START(2, init);
      }
      INT8RT_DIRECT_DOT(2, 5, 6);
      if constexpr (kTwo) {
        INT8RT_TILE_LOADD(7, w1, 64);
        if (first) {
          if (prev.tiles == 4) INT8RT_TILE_STORED(1, acc + 16, kAccStride);
          INT8RT_DIRECT_START(1, init + 16);
        }
        INT8RT_DIRECT_DOT(1, 4, 7);
        if (first) {
          if (prev.tiles == 4) INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kAccStride);
          INT8RT_DIRECT_START(3, init + 16);
        }
        INT8RT_DIRECT_DOT(3, 5, 7);
        w1 += kTileBytes;
      } else if (first && prev.tiles == 4) {
        INT8RT_TILE_STORED(1, acc + 16, kAccStride);
        INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kAccStride);
      }
      w += kTileBytes;
      if (first && prev.tiles) pending.start(s, prev.p0, prev.c0, prev.n, acc);
      pending.rows_to(step * (t * s.cchunks + kc + 1));
    }
  }
}

#undef INT8RT_DIRECT_DOT
#undef INT8RT_DIRECT_START

template <bool kU8>
void strip(const AmxConvStrip& s) {
  configure_2x2(16, 16, 64);
  alignas(64) int32_t acc[32 * 32];
  const int blocks = (s.nc + 15) / 16;
  const int steps = s.taps * s.cchunks;
  const int step = (32 + (steps + 1) / 2 - 1) / ((steps + 1) / 2);
  Pending pending;
  PrevJob prev;
  for (int64_t p0 = s.p_begin; p0 < s.p_end; p0 += 32) {
    const int8_t* a = s.image + p0 * s.pixel_stride;
    for (int b = 0; b < blocks; b += 2) {
      const bool two = b + 1 < blocks;
      const int8_t* w = s.w + b * s.w_block_stride;
      const int32_t* init = kU8 ? s.acc_init + 16 * b : nullptr;
      two ? issue_dots<kU8, true>(s, a, w, init, pending, step, acc, prev)
          : issue_dots<kU8, false>(s, a, w, init, pending, step, acc, prev);
      pending.rows_to(32);
      prev = {two ? 4 : 2, p0, 16 * b, s.nc - 16 * b < 32 ? s.nc - 16 * b : 32};
    }
  }
  if (prev.tiles) {
    INT8RT_TILE_STORED(0, acc, kAccStride);
    INT8RT_TILE_STORED(2, acc + 16 * 32, kAccStride);
    if (prev.tiles == 4) {
      INT8RT_TILE_STORED(1, acc + 16, kAccStride);
      INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kAccStride);
    }
    pending.start(s, prev.p0, prev.c0, prev.n, acc);
  }
  INT8RT_TILE_RELEASE();
  pending.rows_to(32);
}

'''


def variant(name: str, src: str) -> str:
    arith = [(LOAD, REG_LOAD), (STORE, ARITH)] + KEEP
    edits = {"same": [], "noepi": [NO_EPI], "regonly": [(LOAD, REG_LOAD), (STORE, SINK_STORE)],
             "noload": [(LOAD, REG_LOAD)], "nostore": [(STORE, SINK_STORE)], "arith_reg": arith,
             "arith_nocvt": arith, "vec16": [(ROWS_TO, vec16(""))],
             "vec16_store": [(ROWS_TO, vec16('_mm512_store_ps(line, a);\n      __asm__ volatile("" :: "m"(line));'))],
             "magic": [("\n// The epilogue of one job", MAGIC_ROW),
                       ("ep512::store_requantized_row<2>(v, ce, n,", "magic_row(v, ce, n,")]}
    if name.startswith("rows") and name[4:].isdigit():
        return sp.make_variant(src, [(STEP_LINE, f"const int all = (32 + steps - 1) / steps;\n  const int step = all > {name[4:]} ? all : {name[4:]};")],
                               name)
    if name.startswith("steps_"):
        over = {"steps_half": "(steps + 1) / 2", "steps_all": "steps", "steps_3q": "(3 * steps + 3) / 4",
                "steps_q": "(steps + 3) / 4"}[name]
        return sp.make_variant(src, [(STEP_LINE, f"const int over = {over};\n  const int step = (32 + over - 1) / over;")],
                               name)
    if name == "pairs":
        return subprocess.run(["git", "show", f"{PAIRS_COMMIT}:csrc/kernels/x86/amx/conv_direct_32x32c4.cc"],
                              cwd=sp.ROOT, check=True, capture_output=True, text=True).stdout
    if name == "pre_store":
        begin = src.index("// Issues the dot products of 32 grid rows")
        end = src.index("}  // namespace\n\nvoid conv_direct_strip(")
        return src[:begin] + PRE_STORE + src[end:]
    out = sp.make_variant(src, edits[name], name)
    return sp.make_variant(out, NO_CVT, name) if name == "arith_nocvt" else out


NAMES = ["same", "noepi", "regonly", "noload", "nostore", "pre_store", "pairs", "arith_reg", "arith_nocvt", "vec16",
         "vec16_store", "magic", "steps_half", "steps_all", "steps_3q", "steps_q", "rows3",
         "rows4", "rows5"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", choices=NAMES, default=NAMES)
    ap.add_argument("--peak", type=float, default=7764.0, help="GOPS for the %%peak column")
    ap.add_argument("--shapes", nargs="+", default=["64 56 64 3 1 1", "64 56 64 3 1 8", "128 28 128 3 1 1",
                                                    "128 28 128 3 1 8"], help='"C H K R stride batch"')
    ap.add_argument("--out", type=Path, default=Path("/tmp/r50x3_probe"))
    ap.add_argument("--library-fp", action="store_true",
                    help="compile with the library's -ffp-contract=off -fno-trapping-math (section 207: without "
                         "them g++ contracts the epilogue's multiply and add into one FMA, which the library never does)")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    src = sp.KERNEL.read_text()
    paths = []
    for name in a.variants:
        path = a.out / f"{name}.cc"
        path.write_text(variant(name, src))
        paths.append((name, path))
    (a.out / "probe.cc").write_text(sp.harness(paths))
    exe = a.out / "probe"
    flags = sp.FLAGS + (["-ffp-contract=off", "-fno-trapping-math"] if a.library_fp else [])
    subprocess.run(["g++", *flags, str(a.out / "probe.cc"), "-o", str(exe)], check=True)
    print("shape: kernel us %peak | " + " ".join(name for name, _ in paths), flush=True)
    shapes = [int(v) for s in a.shapes for v in s.split()]
    subprocess.run([str(exe), str(a.peak), *map(str, shapes)], check=True)


if __name__ == "__main__":
    main()
