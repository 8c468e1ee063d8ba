"""Helpers of benchmarks/realnets_bench.py: rendered text data, the PP-OCR tasks,
engine builders for int8rt and ONNX Runtime, alternating timing."""
