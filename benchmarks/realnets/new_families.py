"""The model families users export today that new_models.py did not cover
(issues 11/14 follow-up): a Llama- and a Qwen2-style decoder (RMSNorm, rotary
embeddings, causal mask, SiLU-gated MLP, grouped-query attention), SegFormer,
CLIP's vision and text towers, BART's and Marian's encoders, two audio transformers (AST on
a spectrogram, HuBERT on raw samples), DINOv2, YOLOS, and a CRNN text recogniser
(conv stack -> bidirectional LSTM / GRU -> per-column classes).

Each is the library's own definition (HuggingFace transformers, torch.nn) with
a small config and seeded random weights, exported by new_models.export
(default exporter, dynamic batch / sequence / width). Feeds follow
new_models.py's module docstring: photographs for vision, random token ids
with padded tails for text, speech-like signals for audio, rendered text
lines (text_images.py) for the CRNN.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Dict

import numpy as np

from . import new_models as M
from . import seg_models

_TESTS = str(Path(__file__).resolve().parents[2] / "tests")


def _transformers():
    seg_models.import_torchvision()  # transformers imports torchvision (module docstring of seg_models)
    import transformers

    return transformers


def _tower(model_cls: str, config_cls: str, key: str, arg: str, **config) -> Callable[[], object]:
    """A transformers model as ``(x[, attention_mask]) -> outputs[key]``, called as
    ``model(**{arg: x})``; eager attention (the default exporter traces it as users get it)."""
    def make():
        import torch
        t = _transformers()

        class One(torch.nn.Module):
            def __init__(self, m) -> None:
                super().__init__()
                self.m = m

            def forward(self, x, attention_mask=None):
                kw = {"attention_mask": attention_mask} if attention_mask is not None else {}
                return self.m(**{arg: x}, **kw)[key]

        torch.manual_seed(0)
        cfg = getattr(t, config_cls)(**config)
        cfg._attn_implementation = "eager"
        return One(getattr(t, model_cls)(cfg)).eval()
    return make


def _image(name: str, make: Callable[[], object], kind: str, size: int = 224, note: str = "",
           spatial: bool = False) -> M.NewNet:
    """An image model; ``spatial``: height and width dynamic too, as segmentation
    and DINOv2 users export them (any image size)."""
    axes = {0: "N", 2: "H", 3: "W"} if spatial else {0: "N"}
    return M.NewNet(name, "transformers", make, M._image_feeds(size), ("x",), {"x": axes}, kind, note)


def _speech(n: int, seed: int, seconds: float) -> np.ndarray:
    sys.path.insert(0, _TESTS)
    from audio_signals import speech_like

    return np.stack([speech_like(seconds, seed * 1000 + i) for i in range(n)]).astype(np.float32)


def _fbank(n: int, seed: int, frames: int = 256, mels: int = 128) -> Dict[str, np.ndarray]:
    """AST's input: [N, frames, mels] log power in mel-like bands (25 ms Hann
    window, 10 ms hop), normalised as ASTFeatureExtractor does (mean -4.27, std 4.57 x 2)."""
    s = _speech(n, seed, frames * 0.01 + 0.03)
    win = np.hanning(400)
    out = np.empty((n, frames, mels), np.float32)
    for i in range(n):
        spec = np.abs(np.stack([np.fft.rfft(s[i, t * 160:t * 160 + 400] * win) for t in range(frames)])) ** 2
        bands = np.array_split(spec[:, 1:], mels, axis=1)
        out[i] = np.log(np.maximum(np.stack([b.sum(1) for b in bands], 1), 1e-10))
    return {"x": (out + 4.27) / (4.57 * 2)}


def _ast() -> M.NewNet:
    make = _tower("ASTForAudioClassification", "ASTConfig", "logits", "input_values", hidden_size=192,
                  num_hidden_layers=4, num_attention_heads=3, intermediate_size=768, max_length=256,
                  num_mel_bins=128, num_labels=527)
    return M.NewNet("ast", "transformers", make, _fbank, ("x",), {"x": {0: "N"}}, "class",
                    "4 layers, width 192, 256 frames x 128 bands, 527 AudioSet labels")


def _hubert() -> M.NewNet:
    make = _tower("HubertModel", "HubertConfig", "last_hidden_state", "input_values", hidden_size=256,
                  num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
    return M.NewNet("hubert", "transformers", make, lambda n, seed: {"x": _speech(n, seed, 1.0)}, ("x",),
                    {"x": {0: "N", 1: "T"}}, "dense", "4 layers, H 256, 1 s of audio (any length)")


def _seq2seq_encoder(name: str, config_cls: str, model_cls: str, vocab: int, note: str) -> M.NewNet:
    """The encoder of a transformers encoder-decoder (4 layers, d 256) as ``(input_ids, attention_mask) -> states``."""
    def build():
        import torch
        t = _transformers()
        torch.manual_seed(0)
        cfg = getattr(t, config_cls)(vocab_size=vocab, d_model=256, encoder_layers=4, decoder_layers=1,
                                     encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=1024,
                                     decoder_ffn_dim=1024)
        cfg._attn_implementation = "eager"
        return M._last_hidden_state(getattr(t, model_cls)(cfg).get_encoder().eval())

    inputs = ("input_ids", "attention_mask")
    return M.NewNet(name, "transformers", build, M._token_feeds(vocab, 32), inputs,
                    {k: {0: "N", 1: "S"} for k in inputs}, "dense", note)


def _llama_sdpa() -> M.NewNet:
    """llama with the attention transformers picks by default (SDPA), as users
    export it, and the padding mask given."""
    def build():
        import torch
        t = _transformers()
        torch.manual_seed(0)
        return M._last_hidden_state(t.LlamaModel(t.LlamaConfig(**_DECODER)).eval())

    inputs = ("input_ids", "attention_mask")
    return M.NewNet("llama_sdpa", "transformers", build, M._token_feeds(32000, 32), inputs,
                    {k: {0: "N", 1: "S"} for k in inputs}, "dense", "llama's config, default (SDPA) attention")


def _clip_text_pooled() -> M.NewNet:
    """CLIP's text tower as zero-shot users call it: ``text_embeds`` (the
    end-of-text token's state, found with argmax, projected)."""
    make = _tower("CLIPTextModelWithProjection", "CLIPTextConfig", "text_embeds", "input_ids", **_CLIP_TEXT,
                  projection_dim=128)
    inputs = ("input_ids", "attention_mask")
    return M.NewNet("clip_text_embeds", "transformers", make, M._token_feeds(49408, 32), inputs,
                    {k: {0: "N", 1: "S"} for k in inputs}, "dense", "clip_text's config, projected embedding")


_CLIP_TEXT = dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                  max_position_embeddings=77)
_DECODER = dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                num_key_value_heads=2, max_position_embeddings=256, use_cache=False)


LINE_H, LINE_W = 32, 160  # the CRNN's input: grey text lines of height 32, padded to width 160


def _text_lines(n: int, seed: int) -> Dict[str, np.ndarray]:
    """Grey [N, 1, 32, 160] text lines: resized to height 32, width kept in
    proportion up to 160, padded on the right with the line's paper colour."""
    from PIL import Image

    from .text_images import text_lines

    out = np.empty((n, 1, LINE_H, LINE_W), np.float32)
    for i, line in enumerate(text_lines(n, seed)):
        img = Image.fromarray(line.image).convert("L")
        w = min(LINE_W, max(8, round(img.width * LINE_H / img.height)))
        a = np.asarray(img.resize((w, LINE_H), Image.BILINEAR), np.float32) / 127.5 - 1.0
        out[i, 0] = a[:, -1:].mean()
        out[i, 0, :, :w] = a
    return {"x": out}


def _crnn(rnn: str) -> Callable[[], object]:
    """CRNN (Shi et al. 2015) as users write it in PyTorch: VGG-ish convs that
    take height 32 to 1, the columns as a sequence, two bidirectional
    ``nn.LSTM`` / ``nn.GRU`` layers, a Linear to 97 classes per column
    ([T, N, 97], CTC's layout)."""
    def make():
        import torch
        from torch import nn

        def block(cin, cout, pool):
            return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)] + (
                [nn.MaxPool2d(pool, pool)] if pool else [])

        class CRNN(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.cnn = nn.Sequential(*block(1, 32, 2), *block(32, 64, 2), *block(64, 128, None),
                                         *block(128, 128, (2, 1)), *block(128, 192, (2, 1)),
                                         *block(192, 192, (2, 1)))
                self.rnn = getattr(nn, rnn)(192, 128, num_layers=2, bidirectional=True)
                self.fc = nn.Linear(256, 97)

            def forward(self, x):
                f = self.cnn(x).squeeze(2).permute(2, 0, 1)  # [W/4, N, C]
                return self.fc(self.rnn(f)[0])

        torch.manual_seed(0)
        return M._bn_from_images(CRNN(), _text_lines(8, 100))
    return make


FAMILIES: Dict[str, M.NewNet] = {n.name: n for n in [
    M._hf("llama", "LlamaConfig", "LlamaModel", _DECODER, 32000,
          note="4 layers, H 256, 8 heads / 2 KV heads, SiLU-gated MLP 688"),
    M._hf("qwen2", "Qwen2Config", "Qwen2Model", _DECODER, 151936,
          note="as llama, with q/k/v biases"),
    _image("segformer", _tower("SegformerForSemanticSegmentation", "SegformerConfig", "logits", "pixel_values",
                               num_labels=19), "dense", 224, "MiT-b0's shape, 19 classes, logits at 1/4; any H, W",
           spatial=True),
    _image("clip_vision", _tower("CLIPVisionModel", "CLIPVisionConfig", "pooler_output", "pixel_values",
                                 hidden_size=192, intermediate_size=768, num_hidden_layers=6,
                                 num_attention_heads=3, image_size=224, patch_size=16), "dense", 224,
           "6 layers, width 192, patch 16; pooled output"),
    M._hf("clip_text", "CLIPTextConfig", "CLIPTextModel", _CLIP_TEXT, 49408,
          note="4 layers, width 256, causal + padding mask"),
    _clip_text_pooled(),
    _llama_sdpa(),
    _seq2seq_encoder("bart_encoder", "BartConfig", "BartModel", 50265, "4 layers, d 256, learned positions"),
    _seq2seq_encoder("marian_encoder", "MarianConfig", "MarianModel", 58101,
                     "4 layers, d 256, sinusoidal positions, scaled embeddings"),
    _ast(),
    _hubert(),
    _image("dinov2", _tower("Dinov2ForImageClassification", "Dinov2Config", "logits", "pixel_values",
                            hidden_size=192, intermediate_size=768, num_hidden_layers=6, num_attention_heads=3,
                            image_size=518, patch_size=14, num_labels=1000), "class", 224,
           "6 layers, width 192, patch 14; any H, W: positions resized bicubically from 37x37", spatial=True),
    _image("yolos", _tower("YolosForObjectDetection", "YolosConfig", "pred_boxes", "pixel_values", hidden_size=192,
                           intermediate_size=768, num_hidden_layers=6, num_attention_heads=3, image_size=[224, 224],
                           num_detection_tokens=20), "dense", 224,
           "6 layers, width 192, 20 detection tokens; boxes (sigmoid of a 3-layer MLP)"),
    M.NewNet("crnn_lstm", "torch.nn", _crnn("LSTM"), _text_lines, ("x",), {"x": {0: "N", 3: "W"}}, "dense",
             "6 conv blocks, 2 bidirectional LSTM layers (128), 97 classes per column"),
    M.NewNet("crnn_gru", "torch.nn", _crnn("GRU"), _text_lines, ("x",), {"x": {0: "N", 3: "W"}}, "dense",
             "as crnn_lstm with nn.GRU"),
]}

M.NETS.update(FAMILIES)
