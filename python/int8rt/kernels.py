"""Kernel selection controls and the CPU feature report.

int8rt picks one kernel per layer from an ordered candidate list (best ISA
first, the reference kernel last) when an engine is built or loaded. The ISA
tier it may use is capped by the smallest of: what this CPU supports, the
``INT8RT_MAX_ISA`` environment variable, and :func:`set_max_isa`. Tier names,
lowest first: ``ref``, ``avx2``, ``avxvnni``, ``avx512`` (AVX-512 F/BW/VL/DQ),
``avx512vnni``, ``amx``.
Setting ``INT8RT_LOG=dispatch`` prints each choice (and why other candidates
declined) to stderr.
"""
from __future__ import annotations

from typing import Dict, Optional, Union

from . import _core

__all__ = ["ISA_NAMES", "cpu_features", "get_max_isa", "isa_info", "set_max_isa"]

#: ISA tier names, lowest first (a cap holds back every tier above it; the
#: BF16 vector kernels are the ``avx512bf16`` tier).
ISA_NAMES = ("ref", "avx2", "avxvnni", "avx512", "avx512vnni", "avx512bf16", "amx")


def cpu_features() -> Dict[str, Union[bool, str]]:
    """Return the CPU features int8rt detected, each True only when the OS also
    saves the matching register state (XCR0) and, for AMX, Linux granted the
    tile-data permission. Keys: avx2, fma, f16c, avx512f, avx512bw, avx512vl,
    avx512dq, avx512_vnni, avx_vnni, avx512_bf16, amx_tile, amx_int8, amx_bf16, the OS-state
    flags os_saves_ymm/os_saves_zmm/os_saves_tiles/amx_permission, and vendor."""
    return dict(_core.cpu_features())


def set_max_isa(isa: Optional[str]) -> None:
    """Cap kernel selection at ``isa`` (one of :data:`ISA_NAMES`), the
    programmatic mirror of ``INT8RT_MAX_ISA``; ``None`` removes this cap (the
    environment variable and the CPU still apply). Affects layers built after
    the call. Raises :class:`int8rt.InvalidArgumentError` for an unknown name."""
    _core.set_max_isa(isa)


def get_max_isa() -> str:
    """Return the effective ISA cap: the lowest of the CPU's best tier,
    ``INT8RT_MAX_ISA`` and :func:`set_max_isa`. Raises
    :class:`int8rt.InvalidArgumentError` if ``INT8RT_MAX_ISA`` is not a tier name."""
    return str(_core.get_max_isa())


def isa_info() -> Dict[str, Dict[str, bool]]:
    """Per ISA tier: ``cpu`` (this CPU supports it), ``compiled`` (kernels for it
    are built into this library) and ``enabled`` (usable under the current cap)."""
    return {name: dict(info) for name, info in _core.isa_info().items()}
