"""The split between the public extension int8rt._core and the test hooks
int8rt._testing (csrc/python/testing/, issue 10 part 3).

- The include rule, read from the sources so it cannot regress: a binding file
  of _core (csrc/python/, outside testing/) includes only public headers
  (csrc/include/int8rt/), the bindings' own helpers and the few layer headers
  listed in ALLOWED with their reason; never csrc/kernels/ or csrc/engine/.
- The public package never imports _testing (by its text, and by what a fresh
  `import int8rt` and its CLI load).
- Both modules link the one shared libint8rt: a process that loads both maps
  one copy, so the ISA cap set through the public API is the cap a _testing
  hook's dispatch obeys.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import int8rt
from int8rt._testing import kernels as K

ROOT = Path(__file__).resolve().parents[1]
BINDINGS = ROOT / "csrc" / "python"
TESTING = BINDINGS / "testing"
PYTHON_DIR = str(Path(int8rt.__file__).resolve().parent.parent)

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
# Quoted includes _core's bindings may use beyond int8rt/ and python/, each
# with the reason it is not an engine or kernel internal.
ALLOWED = {
    # The one rule for the length of text shown in messages (header-only,
    # the base layer); bind_errors.cc applies it to every exception text.
    "core/quote.h",
}


def core_binding_files() -> list[Path]:
    files = [p for p in sorted(BINDINGS.rglob("*")) if p.suffix in (".cc", ".h")]
    return [p for p in files if TESTING not in p.parents]


def test_core_bindings_include_no_internal_header() -> None:
    files = core_binding_files()
    assert any(p.name == "module.cc" for p in files), f"no _core sources found under {BINDINGS}"
    bad = []
    for path in files:
        for header in INCLUDE.findall(path.read_text()):
            public = header.startswith("int8rt/")
            own = header.startswith("python/") and not header.startswith("python/testing/")
            if not (public or own or header in ALLOWED):
                bad.append(f"{path.relative_to(ROOT)} includes \"{header}\"")
    assert not bad, ("_core binds the public API only (csrc/include/int8rt/); move test hooks to "
                     "csrc/python/testing/ or add what a binding needs to the public C++ API:\n  "
                     + "\n  ".join(bad))


def test_public_package_never_names_testing() -> None:
    pattern = re.compile(r"\b_testing\b")
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
            for p in sorted((ROOT / "python" / "int8rt").rglob("*.py"))
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, "the public package must not import int8rt._testing:\n" + "\n".join(hits)


def run_py(code: str) -> str:
    """stdout of `code` run in a fresh interpreter on this package (which must succeed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INT8RT_")}
    env["PYTHONPATH"] = PYTHON_DIR
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_importing_the_package_does_not_load_testing() -> None:
    # `import int8rt` loads the API's modules (accuracy, calib, kernels, onnx...);
    # the CLI is the other entry point. The text scan above covers the rest.
    code = ("import sys, int8rt, int8rt.cli\n"
            "print(len([n for n in sys.modules if n.startswith('int8rt.')]))\n"
            "print('int8rt._testing' in sys.modules)\n")
    count, loaded = run_py(code).split()
    assert int(count) > 20, count  # the package's modules were imported
    assert loaded == "False", "importing int8rt and int8rt.cli loaded int8rt._testing"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/self/maps (Linux)")
def test_both_modules_map_one_libint8rt() -> None:
    code = ("import int8rt._core, int8rt._testing\n"
            "maps = open('/proc/self/maps').read().splitlines()\n"
            "libs = sorted({l.split()[-1] for l in maps if 'libint8rt' in l.split()[-1]})\n"
            "mods = sorted({l.split()[-1].rsplit('/', 1)[-1].split('.')[0] for l in maps\n"
            "               if '/int8rt/_' in l.split()[-1]})\n"
            "print(libs); print(mods)\n")
    libs, mods = run_py(code).splitlines()
    assert mods == "['_core', '_testing']", mods
    assert libs.count("libint8rt") == 1, f"expected one libint8rt mapped, got {libs}"


def chosen_isa(cap: str | None) -> tuple[str, str, str]:
    """(chosen conv kernel, its ISA, the effective cap) with `cap` set through
    the public API and the choice made by a _testing hook."""
    int8rt.set_max_isa(cap)
    try:
        name = K.choose_conv(16, 8, 8, 32, 3, 3, pads=(1, 1, 1, 1))
        isas = {n: isa for n, isa, _ in K.conv_candidates(16, 8, 8, 32, 3, 3, pads=(1, 1, 1, 1))}
        return name, isas[name], int8rt.get_max_isa()
    finally:
        int8rt.set_max_isa(None)


def test_public_isa_cap_governs_testing_dispatch() -> None:
    assert chosen_isa("ref") == ("conv_s8_ref", "ref", "ref")
    order = list(int8rt.kernels.ISA_NAMES)
    for cap in order:
        name, isa, effective = chosen_isa(cap)
        assert order.index(effective) <= order.index(cap)
        assert order.index(isa) <= order.index(effective), f"cap {cap}: chose {name} ({isa})"
        if effective == "avx2":
            assert isa == "avx2", f"cap avx2 on an AVX2 CPU: chose {name} ({isa})"


def test_testing_hooks_raise_int8rt_errors() -> None:
    # _core's exception translation covers the hooks too (one registry of translators).
    with pytest.raises(int8rt.InvalidArgumentError, match="out_dtype"):
        K.choose_gemm(8, 8, out_dtype="int4")
