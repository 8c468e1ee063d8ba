"""A T5 encoder (transformers' T5EncoderModel, random weights, a small config:
d_model 256, 4 layers, 4 heads, d_ff 1024, BERT's vocabulary size so that
bert_peers_bench's WordPiece-tokenized real sentences feed it), exported as
users do (transformer_bench.export_encoder: torch.onnx.export, dynamic batch
and sequence, default opset). Every Linear of T5 is bias-free (a MatMul no
Add reads) and the feed has an attention mask, so it is the BERT-class
row of bias correction's bias-free MatMuls and real-token medians
(RESULTS_accuracy.md, acc28)."""
from __future__ import annotations

import os


def export(folder: str) -> str:
    path = os.path.join(os.path.abspath(folder), "t5_encoder.onnx")
    if os.path.exists(path):
        return path
    from transformer_bench import export_encoder, hide_broken_torchvision

    hide_broken_torchvision()
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    config = T5Config(vocab_size=30522, d_model=256, d_kv=64, d_ff=1024, num_layers=4, num_heads=4)
    os.makedirs(folder, exist_ok=True)
    export_encoder(T5EncoderModel(config).eval(), path, config.vocab_size)
    return path
