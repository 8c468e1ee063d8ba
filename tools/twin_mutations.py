"""Mutation check of the emulated x86 twins (issue 13; benchmarks/RESULTS.md §64).

Applies one source mutation at a time to an AMX / AVX-512 / AVX-VNNI kernel
file, emulation header or AMX driver, rebuilds the C++ test binary (and, for
a driver, the library first), runs the twin suites
and reports how many tests fail, then restores the file. Every mutation must
fail at least one test; the script exits 1 if one does not.

Usage (from the repository root, after configuring the C++ tests as
tests/test_cpp_unit.py does, e.g.
``cmake -S tests/cpp -B build/cpptests -G Ninja -Dint8rt_DIR=$(PYTHONPATH=python python -m int8rt.cmake_dir)``):
    python3 tools/twin_mutations.py [build-dir] [M1 M5 ...]
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parents[1]
FILTER = ("X86Twins.*:AmxBf16Emulated.*:AvxBf16Emulated.*:Avx512Emulation*:AvxVnniEmulation.*:AmxEmulation.*:"
          "AvxVnniGemmU8S8Twins.*:X86TwinsU8Codes.*:AmxBf16BlockedEmulated.*:AmxEpilogueClamps.*")
# (name, file, text, mutated text): each text occurs exactly once in its file.
MUTATIONS = [
    ("M1 AMX int8: A tile loaded with a wrong stride (64 for a_stride)", "csrc/kernels/x86/amx/igemm_32x32c4.cc",
     "  INT8RT_TILE_LOADD(4, a + 64 * kk, a_stride);", "  INT8RT_TILE_LOADD(4, a + 64 * kk, 64);"),
    ("M2 AMX int8: accumulator buffer stored with a wrong stride (16 int32 rows)", "csrc/kernels/x86/amx/igemm_32x32c4.cc",
     "constexpr int kAccStride = 32 * 4;", "constexpr int kAccStride = 16 * 4;"),
    ("M3 AMX emulation: tdpb*d does not add to C (dropped accumulate)", "csrc/kernels/x86/amx/amx_emulation.h",
     "uint32_t acc = load_u32(s.data[c][m] + 4 * n);", "uint32_t acc = 0;"),
    ("M4 AMX int8 kernel: C tiles zeroed inside the k loop (dropped accumulate across chunks)", "csrc/kernels/x86/amx/igemm_32x32c4.cc",
     "  INT8RT_TILE_LOADD(4, a + 64 * kk, a_stride);", "  INT8RT_TILE_ZERO(0);\n  INT8RT_TILE_LOADD(4, a + 64 * kk, a_stride);"),
    ("M5 epilogue rounding: VCVTPS2DQ rounds half away from zero (emulation)", "csrc/kernels/x86/emulation/avx512_emulation.h",
     "const float x = std::nearbyint(a.get<float>(i));", "const float x = std::round(a.get<float>(i));"),
    ("M6 epilogue (avx512vnni/epilogue.h): residual added before the bias (order of roundings)", "csrc/kernels/x86/avx512vnni/epilogue.h",
     "  t = _mm512_add_ps(t, ce.bias);\n  if (ep.residual) {\n    __m128i r8 = _mm_maskz_loadu_epi8(m, ep.residual + row * ep.residual_stride + c);\n#if INT8RT_EPILOGUE_U8_CODES\n    r8 = _mm_xor_si128(r8, _mm_set1_epi8(static_cast<char>(ep.residual_xor)));  // the codes\n#endif\n    __m512 r = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(r8));\n    r = _mm512_mul_ps(r, _mm512_set1_ps(ep.residual_scale));\n    t = _mm512_add_ps(t, r);\n  }\n",
     "  if (ep.residual) {\n    __m128i r8 = _mm_maskz_loadu_epi8(m, ep.residual + row * ep.residual_stride + c);\n#if INT8RT_EPILOGUE_U8_CODES\n    r8 = _mm_xor_si128(r8, _mm_set1_epi8(static_cast<char>(ep.residual_xor)));  // the codes\n#endif\n    __m512 r = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(r8));\n    r = _mm512_mul_ps(r, _mm512_set1_ps(ep.residual_scale));\n    t = _mm512_add_ps(t, r);\n  }\n  t = _mm512_add_ps(t, ce.bias);\n"),
    ("M7 vpdpbusd emulation: s8 even bytes zero-extended (wrong sign extension)", "csrc/kernels/x86/emulation/avxvnni_emulation.h",
     "_mm256_srai_epi16(_mm256_slli_epi16(s8, 8), 8)", "_mm256_srli_epi16(_mm256_slli_epi16(s8, 8), 8)"),
    ("M8 vpdpbusd emulation: u8 odd bytes sign-extended (wrong zero extension)", "csrc/kernels/x86/emulation/avxvnni_emulation.h",
     "const __m256i u_odd = _mm256_srli_epi16(u8, 8);", "const __m256i u_odd = _mm256_srai_epi16(u8, 8);"),
    ("M9 AVX-VNNI igemm kernel: dropped accumulate (vpdpbusd into zero)", "csrc/kernels/x86/avxvnni/igemm_6x16c4.cc",
     "acc[i][j] = INT8RT_DPBUSD256(acc[i][j], x, wv[j]);", "acc[i][j] = INT8RT_DPBUSD256(_mm256_setzero_si256(), x, wv[j]);"),
    ("M10 AMX-BF16 kernel: second B tile at a wrong offset (16 instead of 32 columns)", "csrc/kernels/x86/amx/gemm_bf16_32x32.cc",
     "INT8RT_TILE_LOADD(7, b + 32, kBStride);", "INT8RT_TILE_LOADD(7, b + 16, kBStride);"),
    ("M11 AVX512-BF16 kernel: second column block multiplied by the first B register", "csrc/kernels/x86/avx512bf16/gemm_bf16_8x32.cc",
     "acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);", "acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b0);"),
    ("M12 VDPBF16PS emulation: even element first (SDM: odd first)", "csrc/kernels/x86/emulation/avx512_emulation.h",
     "const uint16_t pa[2] = {a.template get<uint16_t>(2 * i), a.template get<uint16_t>(2 * i + 1)};\n"
     "    const uint16_t pb[2] = {b.template get<uint16_t>(2 * i), b.template get<uint16_t>(2 * i + 1)};",
     "const uint16_t pa[2] = {a.template get<uint16_t>(2 * i + 1), a.template get<uint16_t>(2 * i)};\n"
     "    const uint16_t pb[2] = {b.template get<uint16_t>(2 * i + 1), b.template get<uint16_t>(2 * i)};"),
    ("M13 AVX-VNNI gemm_u8s8 tile: high 8 columns multiplied by the low B register", "csrc/kernels/x86/avxvnni/gemm_u8s8_6x16c4.cc",
     "hi[i] = INT8RT_DPBUSD256(hi[i], x, w1);", "hi[i] = INT8RT_DPBUSD256(hi[i], x, w0);"),
    ("M14 AMX per-run packer: [K][N] rows read K bytes apart instead of N (wrong B row stride)",
     "csrc/kernels/x86/conv_amx_pack.cc",
     "rows[i] = k + i < K ? b_kn + (k + i) * N : nullptr;", "rows[i] = k + i < K ? b_kn + (k + i) * K : nullptr;"),
    ("M15 AMX per-run: a reused slot keeps the previous product's B (repack dropped)", "csrc/kernels/x86/conv_amx.cc",
     "    reuse = static_cast<PerRunAmxGemm*>(slot->get());\n  }\n  reuse->pack(b, kn);",
     "    reuse = static_cast<PerRunAmxGemm*>(slot->get());\n    reuse->pack(b, kn);\n  }"),
    ("M16 AMX per-run: [N][K] keys packed as [K][N]", "csrc/kernels/x86/conv_amx.cc",
     "    if (kn) {\n      pack_amx_kn", "    if (true) {\n      pack_amx_kn"),
    ("M17 AMX packers: the 4 bytes of a B tile dword in reverse order", "csrc/kernels/x86/conv_amx_pack.cc",
     "return red / 4 * amx::kKChunk + l * 4 + red % 4;", "return red / 4 * amx::kKChunk + l * 4 + 3 - red % 4;"),
    # u8 codes (RESULTS.md §150): a missing u8 path, a wrong pad code, a dropped compensation or xor.
    ("M18 AVX-VNNI igemm: the u8 tile shifts its rows too (no u8 path: u8 codes xor-ed as int8)",
     "csrc/kernels/x86/avxvnni/igemm_6x16c4.cc",
     "return Shift ? _mm256_xor_si256(x, flip) : x;", "return _mm256_xor_si256(x, flip);"),
    ("M19 AMX int8 kernel: tdpbssd on rows of u8 codes (no tdpbusd path)", "csrc/kernels/x86/amx/igemm_32x32c4.cc",
     "      INT8RT_TILE_DPBUSD(c, a, b); \\", "      INT8RT_TILE_DPBSSD(c, a, b); \\"),
    ("M20 AMX driver: padding of a u8-coded input with the int8 code (wrong pad code)", "csrc/kernels/x86/conv_amx.cc",
     "static_cast<unsigned char>(code_byte(s.pad_value, s.input_codes));",
     "static_cast<unsigned char>(s.pad_value);"),
    ("M21 igemm driver: padding row of a u8-coded input holds the int8 code (wrong pad code, AVX-VNNI)",
     "csrc/kernels/x86/conv_igemm.cc",
     "                             code_byte(s.pad_value, s.input_codes))) {}",
     "                             s.pad_value)) {}"),
    ("M22 AMX int8 kernel: u8 sums start at zero (compensation dropped)", "csrc/kernels/x86/amx/igemm_32x32c4.cc",
     "    init[0] = _mm512_loadu_si512(t.acc_init + c0);", "    init[0] = _mm512_setzero_si512();"),
    ("M23 avx2 epilogue: paired int8 store without the u8-code xor (AVX-VNNI output codes)",
     "csrc/kernels/x86/avx2/epilogue.h",
     "_mm_xor_si128(_mm256_castsi256_si128(ordered), out_xor));", "_mm256_castsi256_si128(ordered));"),
    ("M24 AVX-VNNI descriptor: u8 codes declined (the u8 path not taken)", "csrc/kernels/x86/avxvnni/igemm_ukernel.h",
     "/*u8_codes=*/true};", "/*u8_codes=*/false};"),
    # AMX-BF16 channel-blocked convs (RESULTS.md §162): tile strides, the accumulate, the padding, the SDM's two chains.
    ("M25 AMX-BF16 blocked conv: B tile rows read 32 B apart instead of 64 (wrong tile stride)",
     "csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc",
     "          INT8RT_TILE_LOADD(6, w0, kPairRow * 2);\n          INT8RT_TILE_LOADD(7",
     "          INT8RT_TILE_LOADD(6, w0, kPairRow);\n          INT8RT_TILE_LOADD(7"),
    ("M26 AMX-BF16 blocked conv: A rows one line apart at any stride (wrong tile stride)",
     "csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc",
     "stride = static_cast<long>(l.col_step == 1 ? a.sw : a.sw / l.col_step) * l.width * 2;", "stride = l.width * 2;"),
    ("M27 AMX-BF16 blocked conv: C tiles zeroed per input block (dropped accumulate)",
     "csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc",
     "          INT8RT_TILE_LOADD(4, a0, s0);",
     "          INT8RT_TILE_ZERO(0);\n          INT8RT_TILE_LOADD(4, a0, s0);"),
    ("M28 AMX-BF16 blocked conv: a pixel outside the row reads the tensor's first lines (not zeros)",
     "csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc",
     "    std::memset(dst, 0, kRow * 2);\n    return;", "    std::memcpy(dst, x, kRow * 2);\n    return;"),
    ("M29 AMX emulation: TDPBF16PS's odd step adds to the even chain (SDM: two separate chains)",
     "csrc/kernels/x86/amx/amx_emulation.h",
     "bf16_to_f32(detail::load_u16(pb + 2)), odd));", "bf16_to_f32(detail::load_u16(pb + 2)), even));"),
    # Its two input blocks per step (RESULTS.md §169): the pair's second line, the B tail.
    ("M30 AMX-BF16 blocked conv: an A row's second half is block 2j again, not 2j + 1",
     "csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc",
     "x + ((2 * j + 1) * plane + at) * kLine", "x + (2 * j * plane + at) * kLine"),
    ("M31 AMX-BF16 blocked conv: the last step's padded B copy drops its last pair",
     "csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc",
     "kPairRow, kq * kPairRow * 2);", "kPairRow, (kq - 1) * kPairRow * 2);"),
    ("M32 AMX-BF16 blocked conv: one input block read in place as 64-byte A rows (two pixels per row)",
     "csrc/kernels/x86/amx/conv_nchw16c_bf16_32x32.cc",
     "    l.width = kLine;", "    l.width = kRow;"),
    # RESULTS.md 206: the AMX int8 epilogue's row pairs for steps of 32 full channels (no lane masks).
    ("M33 AMX int8 epilogue: a full-channel row pair stores 31 of its 32 bytes",
     "csrc/kernels/x86/amx/requant_rows2.h",
     "kFull ? __mmask64{0xFFFFFFFFu}", "kFull ? __mmask64{0x7FFFFFFFu}"),
    # RESULTS.md 208: the AMX-BF16 stem reads the float32 image (VCVTNE2PS2BF16, the entry's bits).
    ("M34 AMX-BF16 float-image stem: a plane pair converted in the wrong lane order",
     "csrc/kernels/x86/amx/planes_to_pixels_bf16.h",
     "_mm512_cvtne2ps_pbh(hi, lo);", "_mm512_cvtne2ps_pbh(lo, hi);"),
]
# Files compiled into the library only (the drivers the twins run through):
# a mutation there rebuilds and reinstalls it (tools/dev_build.sh) first.
LIBRARY_FILES = {"csrc/kernels/x86/conv_amx.cc", "csrc/kernels/x86/conv_amx_pack.cc", "csrc/kernels/x86/conv_igemm.cc"}



def run_tests(build: Path) -> Tuple[int, List[str]]:
    """Runs the twin suites; returns the exit status and the failing tests."""
    r = subprocess.run([str(build / "int8rt_cpp_tests"), f"--gtest_filter={FILTER}", "--gtest_brief=1"],
                       capture_output=True, text=True, timeout=1200)
    out = r.stdout + r.stderr
    failed = sorted(set(re.findall(r"^\[  FAILED  \] (\S+?)(?:,| \(|$)", out, re.M)))
    return r.returncode, failed


def build_all(build: Path, library: bool) -> subprocess.CompletedProcess:
    """Rebuilds the test binary, after the library (tools/dev_build.sh) when `library`."""
    if library:
        b = subprocess.run([str(ROOT / "tools/dev_build.sh")], capture_output=True, text=True, cwd=ROOT)
        if b.returncode != 0:
            return b
    return subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True, text=True)


def main(build: Path, which: List[str]) -> int:
    """Runs the chosen mutations (all when `which` is empty); 1 if one survives."""
    survived = 0
    for name, rel, old, new in MUTATIONS:
        if which and not any(name.startswith(w + " ") for w in which):
            continue
        path = ROOT / rel
        src = path.read_text()
        assert src.count(old) == 1, (name, src.count(old))
        path.write_text(src.replace(old, new))
        try:
            t0 = time.time()
            b = build_all(build, rel in LIBRARY_FILES)
            if b.returncode != 0:
                print(f"{name}: BUILD FAILED\n{b.stdout[-2000:]}", flush=True)
                survived += 1
                continue
            rc, failed = run_tests(build)
            survived += not failed
            print(f"{name}: rc={rc} failing tests={len(failed)}: {' '.join(failed)} "
                  f"(build+run {time.time() - t0:.0f} s)", flush=True)
        finally:
            path.write_text(src)
            if rel in LIBRARY_FILES:
                build_all(build, True)
    subprocess.run(["cmake", "--build", str(build), "-j", "2"], capture_output=True, text=True)
    return 1 if survived else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    build_dir = Path(args.pop(0)) if args and not re.fullmatch(r"M\d+", args[0]) else ROOT / "build/cpptests"
    sys.exit(main(build_dir.resolve(), args))
