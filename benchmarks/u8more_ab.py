"""u8 codes on the AVX-VNNI tier (RESULTS.md section 150): r50u8_ab.py's A/B (one auto-calibrated engine
file loaded with u8 codes and with INT8RT_U8_CODES=0, outputs compared byte for byte, the two timed
alternated in one process, 1 thread, process CPU time, medians) with the kernels capped at a tier
(INT8RT_MAX_ISA, default avxvnni: what a CPU with AVX-VNNI and no AVX-512 runs), after printing which conv
kernels each engine's layers got and the machine's load before and after.
Usage: OPENBLAS_NUM_THREADS=1 PYTHONPATH=python python benchmarks/u8more_ab.py [--isa avxvnni]
       [--model resnet50|mobilenet_v2] [--batches 1 8] [--rounds 11] [--models-dir /tmp/e2eall/models]"""
import argparse
import collections
import os
import sys
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--isa", default="avxvnni")
    args, rest = ap.parse_known_args()
    os.environ["INT8RT_MAX_ISA"] = args.isa  # before the kernels are chosen (at build and at load)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import int8rt
    import r50u8_ab

    def kernels(e: "int8rt.Engine") -> str:
        """How many QConv layers each kernel runs (the first word of Engine.layers()' detail)."""
        n = collections.Counter((layer["detail"].split() or ["?"])[0] for layer in e.layers()
                                if layer["op"] == "int8rt.QConv")
        return ", ".join(f"{v} {k}" for k, v in n.most_common())

    load = r50u8_ab.load

    def load_and_report(data: bytes, u8_codes: bool) -> "int8rt.Engine":
        e = load(data, u8_codes)
        print(f"{'u8' if u8_codes else 'int8'} codes, INT8RT_MAX_ISA={args.isa}: {kernels(e)}", flush=True)
        return e

    r50u8_ab.load = load_and_report
    print(f"load average before: {os.getloadavg()}", flush=True)
    sys.argv = [sys.argv[0]] + rest
    r50u8_ab.main()
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
