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
Timing only: the removal copies compute wrong values by design; pairs and
pre_store were not kept (pairs passed the direct-conv tests in the library;
pre_store was never value-checked).

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
    edits = {"same": [], "noepi": [NO_EPI], "regonly": [(LOAD, REG_LOAD), (STORE, SINK_STORE)],
             "noload": [(LOAD, REG_LOAD)], "nostore": [(STORE, SINK_STORE)]}
    if name == "pairs":
        return subprocess.run(["git", "show", f"{PAIRS_COMMIT}:csrc/kernels/x86/amx/conv_direct_32x32c4.cc"],
                              cwd=sp.ROOT, check=True, capture_output=True, text=True).stdout
    if name == "pre_store":
        begin = src.index("// Issues the dot products of 32 grid rows")
        end = src.index("}  // namespace\n\nvoid conv_direct_strip(")
        return src[:begin] + PRE_STORE + src[end:]
    return sp.make_variant(src, edits[name], name)


NAMES = ["same", "noepi", "regonly", "noload", "nostore", "pre_store", "pairs"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", choices=NAMES, default=NAMES)
    ap.add_argument("--peak", type=float, default=7764.0, help="GOPS for the %%peak column")
    ap.add_argument("--shapes", nargs="+", default=["64 56 64 3 1 1", "64 56 64 3 1 8", "128 28 128 3 1 1",
                                                    "128 28 128 3 1 8"], help='"C H K R stride batch"')
    ap.add_argument("--out", type=Path, default=Path("/tmp/r50x3_probe"))
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
    subprocess.run(["g++", *sp.FLAGS, str(a.out / "probe.cc"), "-o", str(exe)], check=True)
    print("shape: kernel us %peak | " + " ".join(name for name, _ in paths), flush=True)
    shapes = [int(v) for s in a.shapes for v in s.split()]
    subprocess.run([str(exe), str(a.peak), *map(str, shapes)], check=True)


if __name__ == "__main__":
    main()
