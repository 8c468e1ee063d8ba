"""acc31 (issue 12 UX): the calibration / evaluation data of the end-to-end runs in
RESULTS_accuracy.md "acc31": synthetic text crops (PP-OCR cls 48x192 with half of them
upside down, rec 48x320, det 320x320 pages), random-token MiniLM batches, and fresh rec
crops (another seed) for held-out evaluation. Usage: python benchmarks/acc31_data.py OUT_DIR
(needs the all-MiniLM-L6-v2 export: --minilm PATH, default /tmp/e2eall/models/minilm.onnx)."""
import os
import sys

os.makedirs(sys.argv[1], exist_ok=True)
os.chdir(sys.argv[1])
MINILM = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--minilm" else "/tmp/e2eall/models/minilm.onnx"
import numpy as np, onnx
from PIL import Image, ImageDraw, ImageFont
rng = np.random.default_rng(0)
try:
    font = ImageFont.load_default(size=28)
except TypeError:
    font = ImageFont.load_default()
words = "the quick brown fox jumps over lazy dog 2026 invoice total amount paid receipt number 123.45".split()
def crop(h, w, flip=False):
    img = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(180, 256, 3)))
    d = ImageDraw.Draw(img)
    ink = tuple(int(v) for v in rng.integers(0, 80, 3))
    d.text((int(rng.integers(2, 20)), int(rng.integers(0, h // 4))), " ".join(rng.choice(words, 3)), fill=ink,
           font=font)
    a = np.asarray(img, np.float32) / 255.0
    if flip: a = a[::-1, ::-1]
    return ((a - 0.5) / 0.5).transpose(2, 0, 1)
cls = np.stack([crop(48, 192, flip=i % 2 == 1) for i in range(96)]); np.savez("cls.npz", x=cls.astype(np.float32))
rec = np.stack([crop(48, 320) for i in range(64)]); np.savez("rec.npz", x=rec.astype(np.float32))
def page():
    img = Image.new("RGB", (320, 320), (255, 255, 255)); d = ImageDraw.Draw(img)
    for k in range(8):
        d.text((int(rng.integers(0, 150)), 10 + 38*k), " ".join(rng.choice(words, 3)), fill=(0, 0, 0), font=font)
    a = np.asarray(img, np.float32) / 255.0
    return ((a - np.array([0.485,0.456,0.406])) / np.array([0.229,0.224,0.225])).transpose(2,0,1)
det = np.stack([page() for _ in range(24)]); np.savez("det.npz", x=det.astype(np.float32))
ids = rng.integers(1000, 20000, (64, 32)); ids[:, 0] = 101; ids[:, -1] = 102
mask = np.ones_like(ids)
m = onnx.load(MINILM, load_external_data=False)
names = [i.name for i in m.graph.input]; print(names)
feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
np.savez("minilm.npz", **{n: feed[n].astype(np.int64) for n in names})

rng = np.random.default_rng(7)  # evaluation crops: another seed, never calibrated on
np.savez("rec_eval.npz", x=np.stack([crop(48, 320) for _ in range(32)]).astype(np.float32))
