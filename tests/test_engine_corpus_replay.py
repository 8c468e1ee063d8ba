"""The committed engine-file fuzz corpus (tests/fuzz/corpus/engine_file),
replayed in the default run without the sanitizer build: each input is
framed as tests/fuzz/fuzz_engine_file.cc frames it and loaded (the layer
factories run; running the engine is left to the sanitized target); it must
load or be refused with an int8rt error, never crash. The regress-*
inputs are crashes found and fixed once; the conv group overflow came back
unnoticed (the sanitized target runs only under -m slow), so its refusal is
asserted by name. The seeds of the newer layers (channel-blocked FP32 and BF16
regions, u8 codes, QSoftmaxFloat, SE tables, QLutFloat, the key-count grid;
the BF16 FPN moves, the SE residual scale, the one-pixel batch GEMM, the
float-image stem, the float chain as one call; CaiT's talking-heads attention,
the BF16 LSTM, int8rt.QLSTM from a zero initial_h, the grouped BF16 blocked
convs) must hold those layers and run; the If / Loop / Scan seeds and the dictionary are
what tools/make_fuzz_corpus.py writes, byte for byte. Under -m slow: every seed's attributes at the
edges of their kinds, and tools/engine_mutation_campaign.py for a bounded time."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import int8rt
from engine_bytes import frame

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from engine_mutation_campaign import attribute_edits, run_once  # noqa: E402

CORPUS = Path(__file__).parent / "fuzz" / "corpus" / "engine_file"


def _frame(payload: bytes) -> bytes:
    """fuzz_engine_file.cc's framing: a whole file as it is, a payload behind a valid header of the
    current format (4: frame_engine_payload's default, so a payload with a format-4 attribute loads)."""
    return payload if payload[:8] == b"INT8RTEN" else frame(payload, version=4)


def _load(data: bytes) -> None:
    int8rt.Engine.deserialize(_frame(data)).serialize()


@pytest.mark.parametrize("path", sorted(CORPUS.glob("regress-*")), ids=lambda p: p.name)
def test_regress_inputs_load_or_are_refused(path: Path) -> None:
    try:
        _load(path.read_bytes())
    except (int8rt.Error, MemoryError):
        pass


def test_conv_group_overflow_is_refused_clearly() -> None:
    data = next(CORPUS.glob("regress-conv-f32-group-4e18-mul-overflow-*")).read_bytes()
    with pytest.raises(int8rt.Error, match="group x weight input channels.*overflows"):
        int8rt.Engine.deserialize(_frame(data))


# The seeds of the layers and records added since the corpus was first written (tools/make_fuzz_corpus.py's
# new_layer_engines): the ops each must hold, so that the corpus keeps covering them.
NEW_LAYER_SEEDS = {
    "blocked_fp32": {"int8rt.Concat16c", "int8rt.AveragePool16c", "int8rt.MaxPool16c", "int8rt.ToNCHW16c"},
    "bf16_blocked": {"int8rt.ConvBf16x16c", "int8rt.GlobalAveragePoolBf16x16c", "int8rt.ToBf16x16c"},
    "u8codes_int8": {"int8rt.QConv"},
    "qsoftmax_int8": {"int8rt.QSoftmaxFloat"},
    "se_gate_int8": {"int8rt.QChannelMul"},
    "out_table_int8": {"int8rt.QLutFloat"},
    "probs_keys_int8": {"int8rt.QAttention"},
    "float_chain_fp32": {"Conv"},
    "float_chain_mixed": {"Conv", "int8rt.QConv"},
    # RESULTS.md sections 265, 267, 268 (make_fuzz_corpus.bf16_region_engines)
    "bf16_fpn_moves": {"int8rt.AddBf16x16c", "int8rt.ResizeNearestBf16x16c", "int8rt.ConcatBf16x16c"},
    "bf16_se_residual": {"int8rt.ChannelScaleBf16x16c", "int8rt.GlobalAveragePoolBf16x16c"},
    "bf16_se_pixels": {"Conv"},
    "bf16_stem_f32": {"int8rt.ConvBf16x16c", "int8rt.FromBf16x16c"},
    "float_chain_ppocr_fp32": {"Conv"},
    # RESULTS.md sections 277-279 and 281 (make_fuzz_corpus.session27_engines)
    "cait27_heads_int8": {"int8rt.QAttention", "int8rt.QGemm"},
    "lstmb27_bf16": {"LSTM", "MatMul"},
    "lstmq27_h0_zero_int8": {"int8rt.QLSTM"},
    "gconv27_blocks_bf16": {"int8rt.ConvBf16x16c", "int8rt.ToBf16x16c", "int8rt.FromBf16x16c"},
    "gconv27_narrow_bf16": {"int8rt.ConvBf16x16c"},
}
# The record each of those seeds must keep, in its layers' details (the same on every tier).
NEW_LAYER_DETAILS = {
    "bf16_se_residual": "NCHW16c bf16 + residual",  # the scale's third input
    "bf16_se_pixels": "one GEMM over the batch",  # conv_f32_pixels_bf16.cc
    "bf16_stem_f32": "from float32",  # the stem reading the float image
    "cait27_heads_int8": "int8 talking-heads attention",  # the two head mixes (head_mix.h)
    "lstmb27_bf16": "bf16 gemms kernel=gemm_bf16_",  # the LSTM's GEMMs in BF16 (rnn_bf16_gemms.h)
    "lstmq27_h0_zero_int8": "int8 H R'",  # the recurrent GEMM int8 from an initial_h calibrated to 0
    "gconv27_blocks_bf16": "dense of 2 groups",  # groups of whole 16-channel blocks
    "gconv27_narrow_bf16": "dense of 16 groups, 8 a block",  # 2-channel groups (and 8-channel ones)
}


@pytest.mark.parametrize("name", sorted(NEW_LAYER_SEEDS))
def test_new_layer_seeds_hold_their_layers_and_run(name: str) -> None:
    engine = int8rt.Engine.deserialize(_frame((CORPUS / f"{name}.payload").read_bytes()))
    assert NEW_LAYER_SEEDS[name] <= {layer["op"] for layer in engine.layers()}
    if name == "u8codes_int8" and int8rt.kernels.isa_info()["avx512vnni"]["enabled"]:  # the tier that reads them
        assert any("(input u8 codes)" in layer["detail"] for layer in engine.layers())
    if name in NEW_LAYER_DETAILS:
        assert any(NEW_LAYER_DETAILS[name] in layer["detail"] for layer in engine.layers()), engine.layers()
    if name.startswith("float_chain"):  # the fused element-wise chain's record (RESULTS.md section 147)
        assert any("+chain(" in layer["detail"] for layer in engine.layers())
    if name == "probs_keys_int8":
        from int8rt.accuracy.probs_keys import key_count_layers
        assert key_count_layers(engine.network())  # the key-count grid's record
    run_once(engine, np.random.default_rng(0))


def test_control_flow_seeds_are_what_the_tool_writes_and_run() -> None:
    """tools/make_fuzz_corpus.py rebuilds the If / Loop / Scan seeds (engine format 3) byte for byte, payload and
    network section, under any ISA cap: the build is deterministic and the committed seeds are the tool's. Each
    loaded seed holds its subgraph layer and runs as the engine the tool built does."""
    import make_fuzz_corpus as tool
    built = tool.control_flow_engines()
    assert sorted(built) == ["nested_if_in_loop_fp32", "scan_fp32"]
    rng = np.random.default_rng(5)
    pairs = {k: rng.standard_normal((3, 2)).astype(np.float32) for k in ("x", "y", "acc0")}
    feeds = {"nested_if_in_loop_fp32": {**pairs, "n": np.array(5, np.int64)},
             "scan_fp32": {"s0": rng.standard_normal((2, 3)).astype(np.float32),
                           "xs": rng.standard_normal((2, 4, 3)).astype(np.float32), "gain": np.array(0.5, np.float32)}}
    for name, (engine, _) in built.items():
        files = tool.seed_files(name, engine)
        assert sorted(files) == [f"engine_file/{name}.payload", f"network_codec/{name}.net"]
        for rel, data in files.items():
            assert (tool.CORPUS / rel).read_bytes() == data, f"{rel}: the committed seed is not what the tool writes"
        loaded = int8rt.Engine.deserialize(_frame((CORPUS / f"{name}.payload").read_bytes()))
        assert [layer["op"] for layer in loaded.layers()] == [{"nested_if_in_loop_fp32": "Loop"}.get(name, "Scan")]
        got, want = loaded.run(feeds[name]), engine.run(feeds[name])
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{name} {key}")


def test_the_dictionary_is_what_the_tool_writes(tmp_path: Path) -> None:
    """tests/fuzz/engine.dict holds every op and attribute name the tool lists (the control-flow ones included)."""
    import make_fuzz_corpus as tool
    tool.write_dict(tmp_path / "engine.dict")
    assert (tool.CORPUS.parent / "engine.dict").read_text() == (tmp_path / "engine.dict").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.payload")), ids=lambda p: p.name)
def test_every_attribute_at_its_edges_loads_or_is_refused(path: Path) -> None:
    """engine_mutation_campaign.attribute_edits: each attribute of the seed set to the edges of its kind; the
    engine loads and runs or is refused with an int8rt error (at load a FormatError), never anything else."""
    from make_fuzz_corpus import DICT_ATTRS, DICT_I64
    rng = np.random.default_rng(1)
    for label, data in attribute_edits(path.read_bytes(), DICT_ATTRS, DICT_I64):
        try:
            engine = int8rt.Engine.deserialize(_frame(data))
        except int8rt.FormatError:
            continue
        try:
            run_once(engine, rng)
        except (int8rt.Error, MemoryError):
            pass
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{path.name} {label}: {type(e).__name__}: {e}")


@pytest.mark.slow
def test_mutation_campaign(tmp_path: Path) -> None:
    """tools/engine_mutation_campaign.py for INT8RT_FUZZ_LONG_SECONDS (default 300): the attribute sweep of every
    seed, then random mutations; a crash, hang or exception other than int8rt's fails, naming the kept input."""
    import os
    import subprocess
    seconds = os.environ.get("INT8RT_FUZZ_LONG_SECONDS", "300")
    tool = Path(__file__).resolve().parents[1] / "tools" / "engine_mutation_campaign.py"
    r = subprocess.run([sys.executable, str(tool), "--seconds", seconds, "--sweep", "*.payload",
                        "--out", str(tmp_path)], capture_output=True, text=True)
    print(r.stdout)
    assert r.returncode == 0, f"{r.stdout[-3000:]}\nkept in {tmp_path}: {sorted(p.name for p in tmp_path.iterdir())}"
