"""Networks int8rt was not shaped around, built from their libraries' own
definitions (timm, torchvision, HuggingFace transformers: text encoders,
ViT and ConvNeXt classifiers) with seeded random
weights and exported with ``torch.onnx.export`` as users export them: the
exporter's default (dynamo, default opset) with a dynamic batch axis (and a
dynamic sequence axis for the text models); nothing is downloaded.

- Vision: ImageNet-normalised crops of the photographs bundled in
  scikit-image's wheel (seg_models.images). BatchNorm running statistics are
  set from such photographs (one pass in training mode, cumulative average),
  so activations are not the degenerate ones of a fresh initialisation.
- Video (r3d_18, mc3_18): 8 frames, each a slightly shifted crop of one photo.
- Text: random token ids (uniform over the first 1000 ids after the special
  ones), a padded tail masked in the attention mask.
- Audio: speech-like synthetic signals (tests/audio_signals.py): raw 16 kHz
  samples for Wav2Vec2, a log-mel-like [80, frames] map for Whisper's encoder.

``NETS`` maps a name to a ``NewNet``: how to build the module, its example
inputs and axes, and how to draw feeds for calibration / evaluation.
"""
from __future__ import annotations

import dataclasses
import sys
import warnings
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from . import seg_models

Feeds = Dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class NewNet:
    """One network: ``build()`` returns the eval-mode torch module; ``feeds(n,
    seed)`` draws n inputs; ``kind`` is "class" (logits [N, C]: top-1 metric),
    "dense" (maps / hidden states: centred cosine)."""

    name: str
    family: str
    build: Callable[[], object]
    feeds: Callable[[int, int], Feeds]
    inputs: Tuple[str, ...]
    dynamic: Dict[str, Dict[int, str]]
    kind: str = "class"
    note: str = ""


def _bn_from_images(model, feeds: Feeds):
    """BatchNorm running statistics from one training-mode pass over ``feeds``."""
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(*[torch.from_numpy(v) for v in feeds.values()])
    return model.eval()


def _image_feeds(size: int) -> Callable[[int, int], Feeds]:
    return lambda n, seed: {"x": seg_models.images(n, (size, size), seed)}


def _video_feeds(n: int, seed: int, frames: int = 8, size: int = 112) -> Feeds:
    base = seg_models.images(n, (size + frames * 2, size + frames * 2), seed)
    out = np.empty((n, 3, frames, size, size), np.float32)
    for t in range(frames):
        out[:, :, t] = base[:, :, t * 2:t * 2 + size, t:t + size]
    return {"x": out}


def _vision(name: str, family: str, factory: Callable[[], object], size: int = 224, note: str = "") -> NewNet:
    feeds = _image_feeds(size)

    def build():
        import torch

        torch.manual_seed(0)
        return _bn_from_images(factory(), feeds(8, 100))

    return NewNet(name, family, build, feeds, ("x",), {"x": {0: "N"}}, "class", note)


def _timm(arch: str, size: int = 224, **kw) -> Callable[[], object]:
    def make():
        seg_models.import_torchvision()
        import timm

        return timm.create_model(arch, pretrained=False, **kw)
    return make


def _tv(arch: str, **kw) -> Callable[[], object]:
    def make():
        return getattr(seg_models.import_torchvision().models, arch)(weights=None, **kw)
    return make


def _hf_image(config_cls: str, model_cls: str, **config) -> Callable[[], object]:
    """A transformers image classifier (random weights, the library's own
    initialisation) as ``pixel_values -> logits``; attention as the library
    picks it by default (users do not set it). The wrapper names its one
    argument: the default exporter matches ``dynamic_axes`` to it (a
    ``*args`` forward, as _first_output's, makes it fall back to TorchScript)."""
    def make():
        import torch
        seg_models.import_torchvision()  # transformers imports torchvision (module docstring of seg_models)
        import transformers

        class Logits(torch.nn.Module):
            def __init__(self, m) -> None:
                super().__init__()
                self.m = m

            def forward(self, x):
                return self.m(pixel_values=x).logits

        cfg = getattr(transformers, config_cls)(**config)
        return Logits(getattr(transformers, model_cls)(cfg)).eval()
    return make


def _tv_video(arch: str) -> Callable[[], object]:
    def make():
        return getattr(seg_models.import_torchvision().models.video, arch)(weights=None)
    return make


def _last_hidden_state(model):
    """A transformers text model as ``(input_ids[, attention_mask]) -> last_hidden_state``."""
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, input_ids, attention_mask=None):
            kw = {"attention_mask": attention_mask} if attention_mask is not None else {}
            return self.m(input_ids=input_ids, **kw).last_hidden_state
    return Hidden().eval()


def _first_output(module, key: Optional[str] = None):
    """Wraps a module whose forward returns a dict / ModelOutput / tuple so that it returns one tensor."""
    import torch

    class First(torch.nn.Module):
        def __init__(self, m) -> None:
            super().__init__()
            self.m = m

        def forward(self, *args):
            out = self.m(*args)
            if key is not None:
                return out[key]
            if isinstance(out, (tuple, list)):
                return out[0]
            return out
    return First(module)


def _token_feeds(vocab: int, seq: int, mask: bool = True, name: str = "input_ids") -> Callable[[int, int], Feeds]:
    def feeds(n: int, seed: int) -> Feeds:
        rng = np.random.default_rng(seed)
        ids = rng.integers(5, min(vocab, 1005), (n, seq)).astype(np.int64)
        out = {name: ids}
        if mask:
            m = np.ones((n, seq), np.int64)
            for i in range(n):
                m[i, seq - int(rng.integers(0, seq // 4 + 1)):] = 0
            out["attention_mask"] = m
        return out
    return feeds


def _hf(name: str, config_cls: str, model_cls: str, config: dict, vocab: int, seq: int = 32,
        mask: bool = True, note: str = "") -> NewNet:
    feeds = _token_feeds(vocab, seq, mask)

    def build():
        import torch
        seg_models.import_torchvision()  # transformers imports torchvision (module docstring of seg_models)
        import transformers

        torch.manual_seed(0)
        cfg = getattr(transformers, config_cls)(**config)
        cfg._attn_implementation = "eager"
        m = getattr(transformers, model_cls)(cfg).eval()

        return _last_hidden_state(m)

    inputs = ("input_ids", "attention_mask") if mask else ("input_ids",)
    dyn = {k: {0: "N", 1: "S"} for k in inputs}
    return NewNet(name, "transformers", build, feeds, inputs, dyn, "dense", note)


def _wav2vec2() -> NewNet:
    def feeds(n: int, seed: int) -> Feeds:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
        from audio_signals import speech_like

        return {"x": np.stack([speech_like(1.0, seed * 1000 + i) for i in range(n)]).astype(np.float32)}

    def build():
        import torch
        seg_models.import_torchvision()  # transformers imports torchvision (module docstring of seg_models)
        import transformers

        torch.manual_seed(0)
        cfg = transformers.Wav2Vec2Config(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                          intermediate_size=1024, feat_extract_norm="group",
                                          do_stable_layer_norm=False)
        cfg._attn_implementation = "eager"
        m = transformers.Wav2Vec2Model(cfg).eval()
        return _first_output(m, "last_hidden_state").eval()

    return NewNet("wav2vec2", "transformers", build, feeds, ("x",), {"x": {0: "N"}}, "dense",
                  "4 layers, H 256, GroupNorm feature extractor, 1 s of audio")


def _whisper() -> NewNet:
    frames = 400

    def feeds(n: int, seed: int) -> Feeds:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
        from audio_signals import speech_like

        out = np.empty((n, 80, frames), np.float32)
        for i in range(n):
            s = speech_like(frames * 0.01 + 0.03, seed * 1000 + i)
            # a log-mel-like map: log power of 80 bands of a 400-sample Hann STFT, hop 160
            win = np.hanning(400)
            spec = np.abs(np.stack([np.fft.rfft(s[t * 160:t * 160 + 400] * win) for t in range(frames)])) ** 2
            bands = np.array_split(spec[:, 1:], 80, axis=1)
            mel = np.log10(np.maximum(np.stack([b.sum(1) for b in bands]), 1e-10))
            mel = np.maximum(mel, mel.max() - 8.0)
            out[i] = (mel + 4.0) / 4.0
        return {"x": out}

    def build():
        import torch
        seg_models.import_torchvision()  # transformers imports torchvision (module docstring of seg_models)
        import transformers

        torch.manual_seed(0)
        cfg = transformers.WhisperConfig(d_model=256, encoder_layers=4, encoder_attention_heads=4,
                                         encoder_ffn_dim=1024, decoder_attention_heads=4, decoder_layers=1, num_mel_bins=80, max_source_positions=frames // 2)
        cfg._attn_implementation = "eager"
        m = transformers.WhisperModel(cfg).get_encoder().eval()
        return _first_output(m, "last_hidden_state").eval()

    return NewNet("whisper_encoder", "transformers", build, feeds, ("x",), {"x": {0: "N"}}, "dense",
                  "4 layers, d 256, 400 mel frames (4 s)")


def _t5() -> NewNet:
    feeds = _token_feeds(32128, 32, True)

    def build():
        import torch
        seg_models.import_torchvision()  # transformers imports torchvision (module docstring of seg_models)
        import transformers

        torch.manual_seed(0)
        cfg = transformers.T5Config(d_model=256, d_kv=32, d_ff=1024, num_layers=4, num_heads=8)
        cfg._attn_implementation = "eager"
        return _last_hidden_state(transformers.T5EncoderModel(cfg).eval())

    return NewNet("t5_encoder", "transformers", build, feeds, ("input_ids", "attention_mask"),
                  {k: {0: "N", 1: "S"} for k in ("input_ids", "attention_mask")}, "dense",
                  "4 layers, d 256, relative position bias")


_SMALL = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)

NETS: Dict[str, NewNet] = {n.name: n for n in [
    _vision("swin_tiny", "timm", _timm("swin_tiny_patch4_window7_224")),
    _vision("mobilevit_s", "timm", _timm("mobilevit_s"), 256),
    _vision("efficientformer_l1", "timm", _timm("efficientformer_l1")),
    _vision("levit_128", "timm", _timm("levit_128")),
    _vision("deit_tiny_distilled", "timm", _timm("deit_tiny_distilled_patch16_224")),
    _vision("regnety_004", "timm", _timm("regnety_004")),
    _vision("cspdarknet53", "timm", _timm("cspdarknet53"), 256),
    _vision("convmixer_768_32", "timm", _timm("convmixer_768_32")),
    _vision("poolformer_s12", "timm", _timm("poolformer_s12")),
    _vision("squeezenet1_0", "torchvision", _tv("squeezenet1_0")),
    _vision("googlenet", "torchvision", _tv("googlenet", aux_logits=False, init_weights=True)),
    _vision("inception_v3", "torchvision", _tv("inception_v3", aux_logits=False, init_weights=True), 299),
    _vision("densenet121", "torchvision", _tv("densenet121")),
    _vision("mnasnet1_0", "torchvision", _tv("mnasnet1_0")),
    _vision("efficientnet_b0", "torchvision", _tv("efficientnet_b0")),
    _vision("swin_t", "torchvision", _tv("swin_t")),
    _vision("maxvit_t", "torchvision", _tv("maxvit_t")),
    _vision("vit_b_16", "torchvision", _tv("vit_b_16")),
    _vision("vit_hf", "transformers", _hf_image("ViTConfig", "ViTForImageClassification", hidden_size=192,
                                                num_hidden_layers=12, num_attention_heads=3,
                                                intermediate_size=768, num_labels=1000),
            note="ViT-Tiny's shape: patch 16, 12 layers, width 192"),
    _vision("convnext_hf", "transformers", _hf_image("ConvNextConfig", "ConvNextForImageClassification",
                                                     depths=[2, 2, 6, 2], hidden_sizes=[64, 128, 256, 512],
                                                     layer_scale_init_value=0.1, num_labels=1000),
            note="depths 2-2-6-2, widths 64-512; layer scale 0.1 (the default 1e-6 leaves the blocks silent)"),
    NewNet("r3d_18", "torchvision", lambda: _video_build("r3d_18"), _video_feeds, ("x",), {"x": {0: "N"}}),
    NewNet("mc3_18", "torchvision", lambda: _video_build("mc3_18"), _video_feeds, ("x",), {"x": {0: "N"}}),
    _hf("distilbert", "DistilBertConfig", "DistilBertModel",
        dict(dim=256, n_layers=4, n_heads=4, hidden_dim=1024), 30522),
    _hf("roberta", "RobertaConfig", "RobertaModel", _SMALL, 50265),
    _hf("albert", "AlbertConfig", "AlbertModel", dict(_SMALL, embedding_size=128), 30000),
    _hf("gpt2", "GPT2Config", "GPT2Model", dict(n_embd=256, n_layer=4, n_head=4), 50257),
    _hf("mobilebert", "MobileBertConfig", "MobileBertModel", dict(num_hidden_layers=6), 30522),
    _t5(),
    _whisper(),
    _wav2vec2(),
]}


def _video_build(arch: str):
    import torch

    torch.manual_seed(0)
    return _bn_from_images(_tv_video(arch)(), _video_feeds(4, 100))


def exported(name: str, folder: str) -> Tuple["NewNet", Path]:
    """``NETS[name]`` and its ONNX file in ``folder``, exported there first
    when it is not there yet (the benchmarks' shared cache of exports)."""
    net, path = NETS[name], Path(folder) / f"{name}.onnx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        export(net, path)
    return net, path


def export(net: NewNet, path: Path, dynamo: bool = True) -> Tuple[Path, str]:
    """Exports ``net`` to ``path`` (example batch 2); returns the path and the
    exporter used ("dynamo" or, where the default exporter raised,
    "torchscript" with the reason)."""
    import torch

    model = net.build()
    ex = net.feeds(2, 7)
    args = tuple(torch.from_numpy(ex[k]) for k in net.inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            try:
                torch.onnx.export(model, args, str(path), input_names=list(net.inputs), output_names=["out"],
                                  dynamic_axes=net.dynamic)
                return path, "dynamo"
            except Exception as e:  # noqa: BLE001 - users fall back to the TorchScript exporter
                how = f"torchscript (dynamo raised {type(e).__name__}: {str(e)[:100]})"
        else:
            how = "torchscript"
        torch.onnx.export(model, args, str(path), dynamo=False, input_names=list(net.inputs), output_names=["out"],
                          dynamic_axes=net.dynamic)
    return path, how


def ort_session(path, threads: int = 1):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


# The families added for issues 11/14's follow-up live in their own file, which uses the helpers above and
# adds its nets to NETS when it is imported (here, or first: either order registers them).
from . import new_families  # noqa: E402,F401
