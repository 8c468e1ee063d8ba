"""Which images favour which calibration method on a new network
(RESULTS_accuracy.md, acc41): two engines calibrated on one seed's images
(accuracy check off), run on the images of several seeds; per image, the
squared error of its centred class scores against ONNX Runtime FP32
(each side less its mean over all the images, so what depends on the
input), summed per bundled photograph the image was cropped from
(seg_models.images' draws replayed), and each seed's photograph mix.

Usage (from /tmp): PYTHONPATH=<repo>/python python3 <repo>/benchmarks/acc41_per_photo.py shufflenet_v2 --dir D
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import newnets_bench as B  # noqa: E402  (registers newnets4_families' nets)
from realnets import new_models as M  # noqa: E402
from realnets import seg_models as S  # noqa: E402


def photo_of_each(n: int, seed: int) -> list[int]:
    """The photograph index of each of seg_models.images(n, ., seed)'s images
    (its draws replayed in order)."""
    rng, src, out = np.random.default_rng(seed), S.photos(), []
    for _ in range(n):
        k = int(rng.integers(len(src)))
        H, W = src[k].shape[:2]
        ch, cw = int(H * rng.uniform(0.25, 1.0)), int(W * rng.uniform(0.25, 1.0))
        rng.integers(H - ch + 1), rng.integers(W - cw + 1), rng.integers(2)
        out.append(k)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=list(M.NETS))
    ap.add_argument("--dir", default="/tmp/newnets/models")
    ap.add_argument("--algorithms", default="minmax,mse")
    ap.add_argument("--calib-seed", type=int, default=2)
    ap.add_argument("--eval-seeds", default="1,2,3,4")
    ap.add_argument("--n", type=int, default=32)
    args = ap.parse_args()
    import int8rt
    from int8rt.data_calibrator import make_calibrator

    int8rt.set_num_threads(1)
    net, path = M.exported(args.name, args.dir)
    sess = M.ort_session(str(path))
    seeds = list(map(int, args.eval_seeds.split(",")))
    feeds = [net.feeds(args.n, s) for s in seeds]
    photo = np.concatenate([photo_of_each(args.n, s) for s in seeds])
    seed_of = np.repeat(seeds, args.n)
    ref = np.concatenate([B.run_all(lambda f: sess.run(None, f)[0], e, 4) for e in feeds])
    ref = ref - ref.mean(0)
    err = {}
    for algorithm in args.algorithms.split(","):
        config = int8rt.BuilderConfig(precision="int8", accuracy_check=False)
        config.calibrator = make_calibrator(net.feeds(args.n, args.calib_seed), algorithm=algorithm, batch_size=8)
        ctx = int8rt.build_engine(str(path), config).create_execution_context()
        got = np.concatenate([B.run_all(lambda f: ctx.run(f)["out"], e, 4) for e in feeds])
        got = got - got.mean(0)
        err[algorithm] = np.square(got - ref).reshape(len(ref), -1).sum(1)
    a, b = args.algorithms.split(",")[:2]
    energy = np.square(ref).reshape(len(ref), -1).sum(1)
    names = S.PHOTOS
    print(f"per photograph (images over seeds {seeds}; calibrated on seed {args.calib_seed}): "
          f"summed centred squared error {a} / {b}, share of the FP32 centred energy")
    for k in sorted(set(photo.tolist()), key=lambda k: -(err[a][photo == k].sum() - err[b][photo == k].sum())):
        m = photo == k
        counts = collections.Counter(seed_of[m].tolist())
        print(f"  {names[k]:24s} images {int(m.sum()):3d} (per seed {dict(sorted(counts.items()))}) "
              f"{a} {err[a][m].sum():9.1f}  {b} {err[b][m].sum():9.1f}  energy {energy[m].sum():9.1f}")
    for s in seeds:
        m = seed_of == s
        print(f"seed {s}: relative L2 {a} {np.sqrt(err[a][m].sum() / energy[m].sum()):.4f} "
              f"{b} {np.sqrt(err[b][m].sum() / energy[m].sum()):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
