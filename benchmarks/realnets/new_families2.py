"""Architectures no earlier realnets file covers (RESULTS_realnets.md, the
nets17 section), for newnets_bench.py ``--families realnets.new_families2``:

- timm CNNs: NFNet-L0 (weight-standardised convs: the weights' mean and
  variance computed in the graph, scaled activations, SE), DLA-34 (tree
  aggregation), DPN-68 (dual path: a residual slice and a dense Concat),
  VoVNet-19 (one-shot aggregation, eSE), SKResNet-18 (selective kernel:
  a softmax over two branches), ECA-ResNet-26t (Conv1d over the pooled
  channels), ReXNet-1.0 (a residual added to a channel slice),
  TF-EfficientNet-B0 (TensorFlow "SAME" padding computed from the input shape),
  MobileNetV4-hybrid-medium (universal inverted bottlenecks, mobile MQA);
- timm attention / MLP models: ResMLP-12 (affine norms, token-mixing Linear
  on the transposed tokens), CaiT-XXS24 (talking heads, class attention),
  XCiT-nano (cross-covariance attention: L2-normalised q / k over tokens,
  Fourier position encoding, local patch interaction convs), PVT-v2-b0
  (spatial-reduction attention, depthwise conv in the MLP), EdgeNeXt-XXS
  (split depthwise encoders, transposed attention), GCViT-XXTiny (global
  query tokens), BoTNet-26t (relative position logits), HaloNet-26t (halo
  windows), CrossViT-9 (two patch sizes, cross attention on class tokens),
  EVA02-Tiny (rotary embeddings, SwiGLU), Sequencer2D-S (bidirectional
  LSTMs along rows and columns);
- torchvision: RegNetX-400MF (group convs);
- transformers: BLOOM (ALiBi), OPT (learned positions with an offset),
  GPT-Neo (alternating global / local attention), Falcon (multi-query
  attention, rotary, parallel block), ModernBERT (alternating global /
  sliding-window attention, GeGLU, no biases), SqueezeBERT (grouped Conv1d
  layers in place of Linear), ConvBERT (span-based dynamic convolution),
  Swin-v2 (cosine attention, log-spaced continuous position bias),
  MobileViT-v2 (separable linear attention), WavLM (gated relative position
  bias, on raw audio).

Each is the library's own definition with seeded random weights (BatchNorm
statistics from photographs, new_models._bn_from_images), exported by
new_models.export (default exporter, dynamic batch; sequence / audio length
where users make them dynamic). Importing this module adds the nets to
new_models.NETS.
"""
from __future__ import annotations

from typing import Callable, Dict

from . import new_families as F
from . import new_models as M

_SMALL = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)


def _timm(name: str, arch: str, size: int = 224, note: str = "") -> M.NewNet:
    return M._vision(name, "timm", M._timm(arch), size, note)


def _zero_head(arch: str, weight: str = "head.weight") -> Callable[[], object]:
    """timm's ``arch`` with its classifier ``weight`` drawn N(0, 0.02): timm's
    MLP-Mixer family (ResMLP: ``head.weight``) and Sequencer2D (``head.fc.weight``)
    initialise it to zero, which makes the output a constant (newnets4_families._perturbed,
    as for ConvNeXt-V2's GRN)."""
    def make():
        import newnets4_families  # benchmarks/ is on sys.path in newnets_bench and its children

        return newnets4_families._perturbed(M._timm(arch), weight, 0.02)()
    return make


def _unit_bn(make: Callable[[], object], size: int) -> Callable[[], object]:
    """``make()`` with every BatchNorm's scale set to 1, then its statistics
    from photographs (new_models._bn_from_images). transformers initialises
    MobileViT-v2's BatchNorm scales N(0, 0.02) with no statistics: some thirty
    of them in a chain shrink the activations until the output underflows to
    exactly 0 (RESULTS_realnets.md, nets17), which no metric can judge."""
    def build():
        import torch

        m = make()
        with torch.no_grad():
            for b in m.modules():
                if isinstance(b, torch.nn.modules.batchnorm._BatchNorm) and b.weight is not None:
                    b.weight.fill_(1.0)
        return M._bn_from_images(m, M._image_feeds(size)(8, 100))
    return build


FAMILIES2: Dict[str, M.NewNet] = {n.name: n for n in [
    _timm("nfnet_l0", "nfnet_l0", note="ScaledStdConv2d: weight mean / variance in the graph"),
    _timm("dla34", "dla34"),
    _timm("dpn68", "dpn68"),
    _timm("ese_vovnet19b_dw", "ese_vovnet19b_dw"),
    _timm("skresnet18", "skresnet18"),
    _timm("ecaresnet26t", "ecaresnet26t", 256),
    _timm("rexnet_100", "rexnet_100"),
    _timm("tf_efficientnet_b0", "tf_efficientnet_b0", note="Conv2dSame: padding from the input shape"),
    _timm("mobilenetv4_hybrid_medium", "mobilenetv4_hybrid_medium", 256),
    M._vision("resmlp_12", "timm", _zero_head("resmlp_12_224"), note="head drawn N(0, 0.02) (zero at init)"),
    M._vision("cait_xxs24", "timm", M._timm("cait_xxs24_224", init_values=0.1),
              note="LayerScale 0.1 (timm's 1e-5 leaves the class token, so the output, the same for every input)"),
    _timm("xcit_nano_12_p16", "xcit_nano_12_p16_224"),
    _timm("pvt_v2_b0", "pvt_v2_b0"),
    _timm("edgenext_xx_small", "edgenext_xx_small", 256),
    _timm("gcvit_xxtiny", "gcvit_xxtiny"),
    _timm("botnet26t", "botnet26t_256", 256),
    _timm("halonet26t", "halonet26t", 256),
    _timm("crossvit_9", "crossvit_9_240", 240),
    _timm("eva02_tiny", "eva02_tiny_patch14_224"),
    M._vision("sequencer2d_s", "timm", _zero_head("sequencer2d_s", "head.fc.weight"),
              note="head drawn N(0, 0.02) (zero at init)"),
    M._vision("regnet_x_400mf", "torchvision", M._tv("regnet_x_400mf")),
    M._hf("bloom", "BloomConfig", "BloomModel", dict(hidden_size=256, n_layer=4, n_head=8), 250880,
          note="4 layers, H 256, 8 heads, ALiBi"),
    M._hf("opt", "OPTConfig", "OPTModel", dict(hidden_size=256, num_hidden_layers=4, ffn_dim=1024,
                                               num_attention_heads=4, word_embed_proj_dim=256), 50272,
          note="4 layers, H 256, learned positions offset by 2"),
    M._hf("gpt_neo", "GPTNeoConfig", "GPTNeoModel", dict(hidden_size=256, num_layers=4, num_heads=4,
                                                         attention_types=[[["global", "local"], 2]],
                                                         window_size=16), 50257,
          note="4 layers, H 256, global / local (window 16) alternating"),
    M._hf("falcon", "FalconConfig", "FalconModel", dict(hidden_size=256, num_hidden_layers=4,
                                                        num_attention_heads=8), 65024,
          note="4 layers, H 256, multi-query attention, rotary, parallel attention + MLP"),
    M._hf("modernbert", "ModernBertConfig", "ModernBertModel",
          dict(hidden_size=256, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
               global_attn_every_n_layers=2, local_attention=16), 50368,
          note="4 layers, H 256, global / sliding-window (16) attention, GeGLU, rotary"),
    M._hf("squeezebert", "SqueezeBertConfig", "SqueezeBertModel", dict(_SMALL, embedding_size=256), 30528,
          note="grouped Conv1d (groups 4) for q / k / v and the MLP"),
    M._hf("convbert", "ConvBertConfig", "ConvBertModel", dict(_SMALL, embedding_size=128), 30522,
          note="span-based dynamic convolution (kernel 9) beside half the heads"),
    F._image("swinv2", F._tower("Swinv2ForImageClassification", "Swinv2Config", "logits", "pixel_values",
                                embed_dim=48, depths=[2, 2, 4, 2], num_heads=[2, 4, 8, 16], window_size=7,
                                num_labels=1000), "class", 224,
             "embed 48, depths 2-2-4-2, window 7; cosine attention, continuous position bias"),
    F._image("mobilevitv2", _unit_bn(F._tower("MobileViTV2ForImageClassification", "MobileViTV2Config", "logits",
                                              "pixel_values", width_multiplier=0.5, num_labels=1000), 256),
             "class", 256, "width 0.5; separable linear attention; BatchNorm scales 1, statistics from photographs"),
    M.NewNet("wavlm", "transformers",
             F._tower("WavLMModel", "WavLMConfig", "last_hidden_state", "input_values", **_SMALL),
             lambda n, seed: {"x": F._speech(n, seed, 1.0)}, ("x",), {"x": {0: "N", 1: "T"}}, "dense",
             "4 layers, H 256, gated relative position bias, 1 s of audio (any length)"),
]}

M.NETS.update(FAMILIES2)
