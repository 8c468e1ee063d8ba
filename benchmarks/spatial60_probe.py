"""Diagnostic copies of the AMX direct-conv microkernel, timed against it.

Each variant is csrc/kernels/x86/amx/conv_direct_32x32c4.cc with one text
edit (asserted to apply): a cost removed (weights or inputs read from one
address, so from L1; no epilogue; no tile loads) or a candidate change (a
load hint, an order, a store form). All variants are compiled into one
harness, benchmarks/amxspatial_ukernel.cc with its kernel include replaced
and one namespace per variant (as its BASE_SRC copy), and alternated in one
process on ResNet-50's spatial shapes: the output is each variant's time over
the unmodified kernel's (medians of thread CPU time). Timing only: the
removal variants compute wrong values by design; the candidates were checked
for values only where kept (none was: RESULTS.md section 185).

Usage (repository root; g++ with AMX flags; the CPU must have AMX-INT8):
    python benchmarks/spatial60_probe.py [--variants a b ...] [--peak GOPS]
        [--shapes "C H K R stride batch" ...] [--out DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "csrc/kernels/x86/amx/conv_direct_32x32c4.cc"
HARNESS = ROOT / "benchmarks/amxspatial_ukernel.cc"
FLAGS = ["-O3", "-std=c++17", f"-I{ROOT / 'csrc'}", "-mamx-tile", "-mamx-int8", "-mavx512f", "-mavx512bw",
         "-mavx512vl", "-mavx512dq", "-mavx512vnni"]

STEP_B = """      INT8RT_TILE_LOADD(6, w, 64);"""
STEP_B1 = """        INT8RT_TILE_LOADD(7, w1, 64);"""
ADVANCE = """        w1 += kTileBytes;
      }
      w += kTileBytes;"""
ROW_STORE = """ep512::store_requantized_row<2>(v, ce, n, res ? res + o * res_stride : nullptr, res_scale, lo, hi,
                                      y + o * y_stride, flip, res_flip);"""
ROWS_TO = "  void rows_to(int end) {\n"
MEMBERS = "  const AmxConvStrip* s_ = nullptr;"
JOB_END = """      pending.rows_to(32);
      store_tiles(two, acc);
      pending.start(s, p0, 16 * b, s.nc - 16 * b < 32 ? s.nc - 16 * b : 32, acc);
"""
STEP_RATE = "const int step = (32 + (steps + 1) / 2 - 1) / ((steps + 1) / 2);"
A_LOADS = ("      INT8RT_TILE_LOADD(4, at + 64 * kc, stride);\n",
           "      INT8RT_TILE_LOADD(5, at + 16 * stride + 64 * kc, stride);\n")

# Copy of epilogue.h's row arithmetic with the final store replaced (RESULT is
# the 64 packed bytes, m32 the 32-byte mask); used by the store-form variants.
ROW_COPY = """
template <int NB>
inline void probe_row(const __m512i* acc, const ep512::ChannelEpilogue* ce, int nc, const int8_t* res,
                      float residual_scale, __m512 lo, __m512 hi, int8_t* y, __m512i flip, __m128i res_flip) {
  __m512i q[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
  for (int j = 0; j < NB; ++j) {
    if (16 * j >= nc) break;
    __m512 t = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[j]), ce[j].scale), ce[j].bias);
    if (res) {
      const __m128i r8 = _mm_xor_si128(_mm_maskz_loadu_epi8(ce[j].m, res + 16 * j), res_flip);
      t = _mm512_add_ps(t, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(r8)), _mm512_set1_ps(residual_scale)));
    }
    q[j] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(t, lo), hi));
  }
  const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const __m512i result = _mm512_xor_si512(_mm512_permutexvar_epi32(order, b), flip);
  const __mmask32 m32 = nc >= 32 ? ~__mmask32{0} : (__mmask32{1} << nc) - 1;
  STORE;
}

// The epilogue of one job"""


def edits() -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """name -> (what it shows, [(old, new), ...])."""
    no_b_advance = (ADVANCE, "      }")
    ab_one = [no_b_advance, ("const int8_t* at = a + s.tap_offset[t];", "const int8_t* at = a;"),
              ("at + 64 * kc", "at"), ("at + 16 * stride + 64 * kc", "at + 16 * stride")]
    no_epi = (ROWS_TO, ROWS_TO + "    return;\n")
    no_loads = [(A_LOADS[0], ""), (STEP_B + "\n", ""), (A_LOADS[1], ""), (STEP_B1 + "\n", "")]
    row = lambda store: [("// The epilogue of one job", ROW_COPY.replace("STORE", store)),
                         ("ep512::store_requantized_row<2>(v, ce, n,", "probe_row<2>(v, ce, n,")]
    return {
        "b_l1": ("weights (B) at one address: L1-resident", [no_b_advance]),
        "ab_l1": ("A and B at one address", ab_one[:2] + [ab_one[3], ab_one[2]]),
        "ab_l1_noepi": ("A and B at one address, no epilogue", ab_one[:2] + [ab_one[3], ab_one[2], no_epi]),
        "dots_only": ("no tile loads, no epilogue: the tile products alone", no_loads + [no_epi]),
        "epi_serial": ("a job's epilogue whole, before the next job's products",
                       [(JOB_END, JOB_END + "      pending.rows_to(32);\n")]),
        "epi_all_steps": ("epilogue rows over all steps (not the first half)",
                          [(STEP_RATE, "const int step = (32 + steps - 1) / steps;")]),
        "epi_nostore": ("epilogue computed, nothing stored", row('__asm__ volatile("" :: "v"(result))')),
        "store_one_line": ("every epilogue row stored to one 64-byte line",
                           [(MEMBERS, "  alignas(64) int8_t sink_[64];\n" + MEMBERS),
                            ("y + o * y_stride, flip, res_flip);", "sink_, flip, res_flip);")]),
        "row_ymm_store": ("rows stored by a 32-byte masked store (not 64)",
                          row("_mm256_mask_storeu_epi8(y, m32, _mm512_castsi512_si256(result))")),
        "b_stream": ("B by tileloaddt1", [(STEP_B, STEP_B.replace("LOADD", "STREAM_LOADD")),
                                          (STEP_B1, STEP_B1.replace("LOADD", "STREAM_LOADD"))]),
        "b_pair_adjacent": ("the pair's two B tiles adjacent (one stream)",
                            [("const int8_t* w1 = w + s.w_block_stride;", "const int8_t* w1 = w + kTileBytes;"),
                             (ADVANCE, "        w1 += 2 * kTileBytes;\n      }\n      w += 2 * kTileBytes;")]),
        "dot_order": ("products A0B0, A0B1, A1B0, A1B1", [(
            """      INT8RT_DIRECT_DOT(0, 4, 6);
      INT8RT_TILE_LOADD(5, at + 16 * stride + 64 * kc, stride);
      INT8RT_DIRECT_DOT(2, 5, 6);
      if constexpr (kTwo) {
        INT8RT_TILE_LOADD(7, w1, 64);
        INT8RT_DIRECT_DOT(1, 4, 7);
        INT8RT_DIRECT_DOT(3, 5, 7);
""", """      INT8RT_DIRECT_DOT(0, 4, 6);
      if constexpr (kTwo) {
        INT8RT_TILE_LOADD(7, w1, 64);
        INT8RT_DIRECT_DOT(1, 4, 7);
      }
      INT8RT_TILE_LOADD(5, at + 16 * stride + 64 * kc, stride);
      INT8RT_DIRECT_DOT(2, 5, 6);
      if constexpr (kTwo) {
        INT8RT_DIRECT_DOT(3, 5, 7);
""")]),
        "two_acc": ("two accumulator buffers, alternating jobs", [
            ("alignas(64) int32_t acc[32 * 32];", "alignas(64) int32_t accs[2][32 * 32];\n  int job = 0;"),
            ("      store_tiles(two, acc);\n", "      int32_t* acc = accs[job++ & 1];\n      store_tiles(two, acc);\n")]),
        "y_prefetch": ("output lines prefetched one job ahead", [(
            "      const int32_t* init = kU8 ? s.acc_init + 16 * b : nullptr;\n",
            """      const int32_t* init = kU8 ? s.acc_init + 16 * b : nullptr;
      if (!s.ep.out_f32) {
        const int64_t g1 = (s.p_end - p0 < 32 ? s.p_end : p0 + 32) - 1;
        int64_t o0 = (p0 / s.grid_w) * s.out_w + (p0 % s.grid_w < s.out_w ? p0 % s.grid_w : s.out_w);
        const int64_t o1 = (g1 / s.grid_w) * s.out_w + (g1 % s.grid_w < s.out_w ? g1 % s.grid_w : s.out_w - 1);
        for (; o0 <= o1; ++o0) __builtin_prefetch(static_cast<const int8_t*>(s.ep.y) + 16 * b + o0 * s.ep.y_stride, 1, 3);
      }
""")]),
    }


def make_variant(src: str, pairs: list[tuple[str, str]], name: str) -> str:
    for old, new in pairs:
        if old not in src:
            sys.exit(f"variant {name}: anchor not found in {KERNEL.name}: {old[:60]!r}")
        src = src.replace(old, new)
    return src


def harness(variants: list[tuple[str, Path]]) -> str:
    h = HARNESS.read_text()
    h = h.replace('#include "../csrc/kernels/x86/amx/conv_direct_32x32c4.cc"', f'#include "{KERNEL}"')
    blocks, pushes = "", ""
    for i, (_, path) in enumerate(variants):
        blocks += (f"namespace int8rt::kernels::x86::amx_v{i} {{\nusing namespace int8rt::kernels::x86::amx;\n}}\n"
                   f"#undef INT8RT_AMX_NS\n#define INT8RT_AMX_NS amx_v{i}\n#include \"{path}\"\n")
        pushes += f"  fns.push_back(kx::amx_v{i}::conv_direct_strip);\n"
    anchor = "#ifdef BASE_SRC\nnamespace"
    assert anchor in h and "#endif\n  std::vector<std::vector<double>>" in h
    h = h.replace(anchor, blocks + anchor, 1)
    h = h.replace("#endif\n  std::vector<std::vector<double>>", "#endif\n" + pushes + "  std::vector<std::vector<double>>")
    # One line per shape: the kernel's time and %peak, then each variant's ratio.
    old_print = h[h.index('  std::printf("%4d->%-4d'):h.index("}\n\n}  // namespace")]
    h = h.replace(old_print, """  std::printf("%4d->%-4d %dx%d s%d @%-3d b%d: %8.1f us %5.1f%%", sh.C, sh.K, sh.R, sh.R, sh.stride, sh.H,
              sh.batch, median(times[0]) * 1e6, 100 * 2 * layer.macs() / median(times[0]) / 1e9 / peak);
  for (size_t f = 1; f < fns.size(); ++f) std::printf(" %6.3f", median(times[f]) / median(times[0]));
  std::printf("\\n");
""")
    return h


def main() -> None:
    table = edits()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", choices=sorted(table), default=sorted(table))
    ap.add_argument("--peak", type=float, default=7764.0, help="GOPS for the %%peak column")
    ap.add_argument("--shapes", nargs="+", default=[], help='"C H K R stride batch" (default: ResNet-50\'s, b1 and b8)')
    ap.add_argument("--out", type=Path, default=Path("/tmp/spatial60_probe"))
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    src = KERNEL.read_text()
    variants = []
    for name in a.variants:
        path = a.out / f"{name}.cc"
        path.write_text(make_variant(src, table[name][1], name))
        variants.append((name, path))
    (a.out / "probe.cc").write_text(harness(variants))
    exe = a.out / "probe"
    subprocess.run(["g++", *FLAGS, str(a.out / "probe.cc"), "-o", str(exe)], check=True)
    for i, (name, _) in enumerate(variants):
        print(f"v{i} {name}: {table[name][0]}")
    shapes = [int(v) for s in a.shapes for v in s.split()]
    print("shape: kernel us %peak | " + " ".join(f"v{i}" for i in range(len(variants))), flush=True)
    subprocess.run([str(exe), str(a.peak), *map(str, shapes)], check=True)


if __name__ == "__main__":
    main()
