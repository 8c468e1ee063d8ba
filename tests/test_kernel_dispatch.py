"""Kernel selection: the INT8RT_MAX_ISA cap (environment and set_max_isa), the
INT8RT_LOG=dispatch report, and CPU feature detection checked against the
kernel's own report in /proc/cpuinfo."""
from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

import int8rt
from int8rt._testing import kernels as K

PYTHON_DIR = str(Path(int8rt.__file__).resolve().parent.parent)
ORDER = list(int8rt.kernels.ISA_NAMES)


def run_py(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INT8RT_")}
    full_env["PYTHONPATH"] = PYTHON_DIR
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=60)


def test_isa_cap_from_environment() -> None:
    cpu_best = K.cpu_max_isa()
    code = "import int8rt; print(int8rt.get_max_isa())"
    for name in ORDER:
        r = run_py(code, INT8RT_MAX_ISA=name)
        assert r.returncode == 0, r.stderr
        want = ORDER[min(ORDER.index(name), ORDER.index(cpu_best))]
        assert r.stdout.strip() == want
    r = run_py(code, INT8RT_MAX_ISA="AVX2")  # names are case-insensitive
    assert r.stdout.strip() == ORDER[min(1, ORDER.index(cpu_best))]
    r = run_py(code)
    assert r.stdout.strip() == cpu_best


def test_bad_isa_name_is_a_clear_error() -> None:
    r = run_py("import int8rt\ntry:\n    int8rt.get_max_isa()\nexcept int8rt.InvalidArgumentError as e:\n"
               "    print('ERR', e)", INT8RT_MAX_ISA="avx9000")
    assert r.returncode == 0, r.stderr
    assert "ERR INT8RT_MAX_ISA: unknown ISA 'avx9000'" in r.stdout
    assert "ref, avx2, avxvnni, avx512, avx512vnni, avx512bf16, amx" in r.stdout
    with pytest.raises(int8rt.InvalidArgumentError, match="unknown ISA 'sse9'"):
        int8rt.set_max_isa("sse9")


def test_set_max_isa_programmatic() -> None:
    # The best this process may use: the CPU's, under INT8RT_MAX_ISA when the
    # suite runs with one (tests capped at a tier).
    env_cap = os.environ.get("INT8RT_MAX_ISA", "").lower() or K.cpu_max_isa()
    cpu_best = ORDER[min(ORDER.index(env_cap), ORDER.index(K.cpu_max_isa()))]
    try:
        int8rt.set_max_isa("ref")
        assert int8rt.get_max_isa() == "ref"
        info = int8rt.kernels.isa_info()
        assert info["ref"]["enabled"] and not any(v["enabled"] for k, v in info.items() if k != "ref")
        assert K.choose_conv(8, 5, 5, 8, 3, 3) == "conv_s8_ref"
        int8rt.set_max_isa("amx")  # a cap above the CPU's best stays at the CPU's best
        assert int8rt.get_max_isa() == cpu_best
    finally:
        int8rt.set_max_isa(None)
    assert int8rt.get_max_isa() == cpu_best
    # The environment still applies under a programmatic cap.
    r = run_py("import int8rt; int8rt.set_max_isa('amx'); print(int8rt.get_max_isa())",
               INT8RT_MAX_ISA="ref")
    assert r.stdout.strip() == "ref"


def test_dispatch_log() -> None:
    code = ("from int8rt._testing import kernels as K\n"
            "print(K.choose_conv(16, 9, 9, 32, 3, 3, stride=(2, 2), pads=(1, 1, 1, 1), groups=2))\n"
            "print(K.choose_gemm(10, 64, out_dtype='float32'))")
    # The child runs under this process's cap (if the suite runs with one), so
    # the candidate reasons computed here below are the ones it logs.
    same_cap = {k: v for k, v in os.environ.items() if k == "INT8RT_MAX_ISA"}
    r = run_py(code, INT8RT_LOG="dispatch", **same_cap)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("int8rt dispatch:")]
    assert len(lines) == 2, r.stderr
    chosen_conv, chosen_gemm = r.stdout.split()
    assert lines[0].startswith("int8rt dispatch: conv_s8 [C=16 H=9 W=9 K=32 R=3 S=3 stride=2x2 "
                               "pads=1,1,1,1 dilation=1x1 groups=2 out=int8] -> " + chosen_conv)
    assert lines[1].startswith("int8rt dispatch: gemm_s8 [N=10 K=64 out=float32] -> " + chosen_gemm)
    # Every candidate above the chosen one appears with its reason.
    rows = K.conv_candidates(16, 9, 9, 32, 3, 3, stride=(2, 2), pads=(1, 1, 1, 1), groups=2)
    names = [n for n, _, _ in rows]
    for name, _, reason in rows[:names.index(chosen_conv)]:
        assert f"{name}: {reason}" in lines[0]
    assert rows[-1][0] == "conv_s8_ref" and rows[-1][2] == ""
    # Quiet without the variable, and with other topics only.
    assert "dispatch" not in run_py(code).stderr
    assert "dispatch" not in run_py(code, INT8RT_LOG="calib").stderr
    assert "int8rt dispatch" in run_py(code, INT8RT_LOG="calib,Dispatch").stderr


DISPATCH_LINE = re.compile(r"^int8rt dispatch: (\w+)( \[[^\]]*\])? -> (\w+) \((\w+)\)"
                           r"(?:; passed over: (.*))?$")


def test_one_log_format_for_every_family() -> None:
    """conv, an element-wise op and SGEMM are chosen by the one registry walk
    and logged alike: "<op> [<problem>] -> <kernel> (<isa>); passed over:
    <kernel>: <reason>; ..." (no brackets for a family without a problem).
    Under the ref cap every vector kernel is passed over with its ISA reason."""
    code = ("from int8rt._testing import kernels as K\n"
            "print(K.choose_conv(16, 9, 9, 32, 3, 3))\n"
            "print(K.choose_eltwise_s8('quantize_s8'))\n"
            "print(K.choose_sgemm())")
    r = run_py(code, INT8RT_LOG="dispatch", INT8RT_MAX_ISA="ref")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("int8rt dispatch:")]
    assert len(lines) == 3, r.stderr
    cpu = {isa: info["cpu"] for isa, info in int8rt.kernels.isa_info().items()}
    families = [("conv_s8", K.conv_candidates(16, 9, 9, 32, 3, 3), True),
                ("quantize_s8", K.eltwise_s8_candidates("quantize_s8"), False),
                ("sgemm_f32", K.sgemm_candidates(), False)]
    for line, chosen, (op, rows, has_problem) in zip(lines, r.stdout.split(), families):
        m = DISPATCH_LINE.match(line)
        assert m, line
        assert m.group(1) == op and (m.group(2) is not None) == has_problem, line
        assert m.group(3) == chosen == rows[-1][0] and m.group(4) == "ref", line
        declines = [f"{name}: " + (f"ISA {isa} above cap ref" if cpu[isa] else f"CPU lacks {isa}")
                    for name, isa, _ in rows[:-1]]
        assert (m.group(5) or "") == "; ".join(declines), line
    with pytest.raises(int8rt.InvalidArgumentError, match="unknown op 'nope_s8'"):
        K.eltwise_s8_candidates("nope_s8")


FEATURES = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
            "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "avx512_bf16", "avx512vbmi"]


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists() or platform.machine() not in ("x86_64", "AMD64"),
                    reason="needs Linux /proc/cpuinfo on x86-64")
def test_cpu_features_match_proc_cpuinfo() -> None:
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    f = int8rt.kernels.cpu_features()
    for name in FEATURES:
        if name.startswith("amx"):
            # AMX also needs the per-process tile permission, so ours implies the flag.
            assert not f[name] or name in flags, name
        else:
            # Linux lists a flag only when the OS enabled its register state, as we require.
            assert f[name] == (name in flags), name
    assert f["avx512_vnni"] <= f["avx512f"] and f["amx_int8"] <= f["amx_tile"]
    avx512 = all(f[k] for k in ("avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"))
    if f["amx_tile"] and f["amx_int8"] and avx512:  # AMX kernels use the AVX-512 epilogue
        expected = "amx"
    elif f["avx512_bf16"] and all(f[k] for k in ("avx512f", "avx512bw", "avx512vl", "avx512dq")):
        expected = "avx512bf16"
    elif avx512:
        expected = "avx512vnni"
    elif all(f[k] for k in ("avx512f", "avx512bw", "avx512vl", "avx512dq")):
        expected = "avx512"
    elif f["avx2"] and f["avx_vnni"]:
        expected = "avxvnni"
    elif f["avx2"] and f["fma"]:
        expected = "avx2"
    else:
        expected = "ref"
    assert K.cpu_max_isa() == expected
    assert int8rt.kernels.isa_info()["ref"] == {"cpu": True, "compiled": True, "enabled": True}
