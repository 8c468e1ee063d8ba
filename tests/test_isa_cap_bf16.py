"""The ISA cap holds the BF16 kernels back (kernels/registry.h: the avx512bf16 tier, above avx512vnni): under
INT8RT_MAX_ISA / set_max_isa at avx512vnni or below, no BF16 vector kernel (x86/avx512bf16, AMX) is chosen. What
shows it: the engine's layers (what `int8rt inspect` prints), `int8rt inspect` itself, and the dispatch log
(INT8RT_LOG=dispatch); the outputs are the uncapped engine's bits, as the BF16 kernels are bit-exact with the
reference BF16 kernels they fall back to. The engines: the NCHW BF16 convs and GEMM (gemm_bf16, dwconv_bf16) and a
channel-blocked BF16 region (nchw16c_bf16) of tests/test_nan_clamps.py."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import int8rt
from test_f32_layout import restore  # noqa: F401  (autouse: threads, ISA cap and batch split put back)
from test_nan_clamps import blocked_net, nchw_net
from bf16_order import uncap, vdpbf16ps_order  # noqa: F401,E402  (autouse: the VDPBF16PS order where AMX-BF16 runs)

CAPS = ["avx512vnni", "avx512", "avxvnni", "avx2", "ref"]
VECTOR = re.compile(r"_avx512bf16|_amx\b|gemm_bf16_32x32_amx")
NETS = {"nchw": (nchw_net, False), "blocked": (blocked_net, True)}


def _native() -> bool:
    """Whether an uncapped engine here uses the AVX512-BF16 kernels (the test can tell a capped one from it)."""
    return bool(int8rt.kernels.isa_info()["avx512bf16"]["enabled"])


def _x(m) -> np.ndarray:
    c, hw = (m.graph.input[0].type.tensor_type.shape.dim[i].dim_value for i in (1, 2))
    return np.random.default_rng(4).standard_normal((2, c, hw, hw)).astype(np.float32)


def _build(m, blocked: bool) -> int8rt.Engine:
    return int8rt.build_engine(m, int8rt.BuilderConfig(precision="fp32", bf16=True, channel_blocked=blocked))


def _details(engine: int8rt.Engine) -> str:
    return "\n".join(f"{la['name']} {la['precision']} {la['detail']}" for la in engine.layers())


def test_the_bf16_tier_sits_above_avx512vnni_and_below_amx() -> None:
    names = list(int8rt.kernels.ISA_NAMES)
    assert names.index("avx512vnni") < names.index("avx512bf16") < names.index("amx")
    assert names == list(int8rt.kernels.isa_info())
    f = int8rt.kernels.cpu_features()
    base = all(f[k] for k in ("avx512f", "avx512bw", "avx512vl", "avx512dq"))
    assert int8rt.kernels.isa_info()["avx512bf16"]["cpu"] == (base and bool(f["avx512_bf16"]))
    with pytest.raises(int8rt.InvalidArgumentError, match="avx512vnni, avx512bf16, amx"):
        int8rt.set_max_isa("bf16")


@pytest.mark.parametrize("net", sorted(NETS))
@pytest.mark.parametrize("cap", CAPS)
def test_a_cap_below_the_bf16_tier_keeps_every_bf16_vector_kernel_out(net: str, cap: str, tmp_path: Path) -> None:
    make, blocked = NETS[net]
    m = make()
    x = _x(m)
    uncapped = _build(m, blocked)
    if _native():
        assert VECTOR.search(_details(uncapped)), _details(uncapped)
    # Loaded under the cap, the uncapped engine's layers (its kernels chosen at load) give its bits. Built under
    # the cap, a blocked region is not formed without its vector kernel: the NCHW BF16 engine's bits (the region
    # stores its output as BF16, the NCHW engine's last conv writes FP32).
    want = {"loaded": uncapped.run({"x": x}), "built": _build(m, False).run({"x": x})}
    uncapped.save(tmp_path / "e.i8rt")
    int8rt.set_max_isa(cap)
    try:
        engines = {"built": _build(m, blocked), "loaded": int8rt.Engine.load(tmp_path / "e.i8rt")}
        got = {how: e.run({"x": x}) for how, e in engines.items()}
    finally:
        uncap()
    for how, engine in engines.items():
        details = _details(engine)
        assert not VECTOR.search(details), f"{how} under {cap}:\n{details}"
        assert "bf16" in details, f"{how} under {cap}: no BF16 layer left to check\n{details}"
        for key, w in want[how].items():
            np.testing.assert_array_equal(got[how][key].view(np.uint32), w.view(np.uint32),
                                          err_msg=f"{net} {key} {how} under {cap}")


def _child(code: str, cap: str, *args: str) -> subprocess.CompletedProcess:
    here = Path(__file__).resolve().parent
    package_dir = Path(int8rt.__file__).resolve().parent.parent
    env = {**os.environ, "INT8RT_MAX_ISA": cap, "INT8RT_LOG": "dispatch",
           "PYTHONPATH": os.pathsep.join([str(package_dir), str(here), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("cap", ["avx512vnni", "avx2"])
def test_the_dispatch_log_and_inspect_show_no_bf16_vector_kernel_under_the_environment_cap(cap: str,
                                                                                          tmp_path: Path) -> None:
    """A fresh process with INT8RT_MAX_ISA set (read at start): building the BF16 engine logs only reference
    BF16 choices, each vector kernel passed over for the cap; `int8rt inspect` of the uncapped engine's file
    (kernels chosen at load) names none."""
    _build(nchw_net(), False).save(tmp_path / "e.i8rt")
    code = ("import int8rt, sys; from test_nan_clamps import nchw_net; "
            "int8rt.build_engine(nchw_net(), int8rt.BuilderConfig(precision='fp32', bf16=True)); "
            "from int8rt.cli import main; sys.exit(main(['inspect', sys.argv[1]]))")
    done = _child(code, cap, str(tmp_path / "e.i8rt"))
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = re.findall(r"int8rt dispatch: (\w+)(?: \[[^\]]*\])? -> (\S+) \((\w+)\)", done.stderr)
    bf16 = [(op, kernel, isa) for op, kernel, isa in chosen if "bf16" in op]
    assert bf16, done.stderr[-3000:]
    assert all(kernel.endswith("_ref") and isa == "ref" for _, kernel, isa in bf16), bf16
    if _native():
        assert f"gemm_bf16_8x32_avx512bf16: ISA avx512bf16 above cap {cap}" in done.stderr, done.stderr[-3000:]
    layers = done.stdout.split("\nlayers (", 1)[1]
    assert "bf16" in layers and not VECTOR.search(layers), layers
