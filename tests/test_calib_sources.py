"""Calibration data from what users have (int8rt.calib.sources): an ONNX
Runtime CalibrationDataReader, a PyTorch DataLoader, a plain generator, an
(iterable, transform) pair and an nncf.Dataset-like object give exactly the
scales of the equivalent TensorRT-style calibrator; tensors are viewed, not
copied; image folders are preprocessed as the options say."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import int8rt
from int8rt.calib.images import ImageOptions
from int8rt.calib.sources import to_numpy
from int8rt.data_calibrator import load_calibration_data, make_calibrator
from int8rt.quickstart import DATA_PATH, MODEL_PATH

BATCH = 16


@pytest.fixture(scope="module")
def calib() -> np.ndarray:
    return np.load(DATA_PATH)["calib"][:96]  # 6 batches of 16


@pytest.fixture(scope="module")
def reference_scales(calib: np.ndarray) -> dict[str, float]:
    class Trt(int8rt.IInt8EntropyCalibrator2):  # TensorRT's protocol, written by hand
        def __init__(self) -> None:
            super().__init__()
            self.i = 0

        def get_batch_size(self) -> int:
            return BATCH

        def get_batch(self, names: list[str]) -> list[np.ndarray] | None:
            if self.i == len(calib):
                return None
            self.i += BATCH
            return [calib[self.i - BATCH:self.i]]

    scales = _scales(Trt())
    assert scales == _scales(make_calibrator({"input": calib}, algorithm="entropy", batch_size=BATCH))
    return scales


def _scales(calibrator: object) -> dict[str, float]:
    """Scales of an engine calibrated from `calibrator` (a data source is made
    an IInt8EntropyCalibrator2, the reference's class: make_calibrator's
    default is auto, whose thresholds differ)."""
    calibrator = make_calibrator(calibrator, algorithm="entropy")
    return int8rt.build_engine(MODEL_PATH, int8rt.BuilderConfig(calibrator=calibrator)).scales()


def _batches(x: np.ndarray) -> list[np.ndarray]:
    return [x[i:i + BATCH] for i in range(0, len(x), BATCH)]


def test_onnxruntime_calibration_data_reader(calib: np.ndarray, reference_scales: dict[str, float]) -> None:
    quantization = pytest.importorskip("onnxruntime.quantization")

    class Reader(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter({"input": b} for b in _batches(calib))

        def get_next(self) -> dict | None:
            return next(self.it, None)

    assert _scales(Reader()) == reference_scales


def test_torch_dataloader(calib: np.ndarray, reference_scales: dict[str, float]) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    labels = torch.zeros(len(calib), dtype=torch.int64)
    loader = DataLoader(TensorDataset(torch.from_numpy(calib), labels), batch_size=BATCH)  # yields [x, y]
    calibrator = make_calibrator(loader, algorithm="entropy")
    assert len(calibrator) == 6  # the DataLoader's length: the progress bar has a total
    assert _scales(calibrator) == reference_scales

    class Dicts(torch.utils.data.Dataset):  # a dict dataset, as Hugging Face ones are
        def __len__(self) -> int:
            return len(calib)

        def __getitem__(self, i: int) -> dict:
            return {"input": torch.from_numpy(calib[i]), "label": i}

    assert _scales(DataLoader(Dicts(), batch_size=BATCH)) == reference_scales


def test_plain_generator_and_list(calib: np.ndarray, reference_scales: dict[str, float]) -> None:
    assert _scales(b for b in _batches(calib)) == reference_scales
    assert _scales([{"input": b} for b in _batches(calib)]) == reference_scales


def test_iterable_transform_pair_as_nncf(calib: np.ndarray, reference_scales: dict[str, float]) -> None:
    starts = list(range(0, len(calib), BATCH))
    assert _scales((starts, lambda s: {"input": calib[s:s + BATCH]})) == reference_scales

    class NncfLikeDataset:  # nncf.Dataset's interface, without nncf
        def __init__(self, items: list, transform: object) -> None:
            self.items, self.transform = items, transform

        def get_inference_data(self, indices: object = None) -> object:
            return map(self.transform, self.items)

        def get_length(self) -> int:
            return len(self.items)

    calibrator = make_calibrator(NncfLikeDataset(starts, lambda s: calib[s:s + BATCH]), algorithm="entropy")
    assert len(calibrator) == len(starts)
    assert _scales(calibrator) == reference_scales


def test_algorithm_and_cache_apply_to_sources(tmp_path: Path, calib: np.ndarray) -> None:
    cache = tmp_path / "m.cache"
    calibrator = make_calibrator(iter(_batches(calib)), algorithm="minmax", cache_file=str(cache))
    scales = _scales(calibrator)
    algorithm, _, cached = int8rt.calib.read_cache(cache.read_bytes())
    assert algorithm == "MinMaxCalibration"
    assert cached == scales
    assert scales == _scales(make_calibrator({"input": calib}, algorithm="minmax", batch_size=BATCH))


def test_tensors_are_viewed_not_copied() -> None:
    torch = pytest.importorskip("torch")
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    a = to_numpy(t)
    t[1, 2] = -7.0
    assert a[1, 2] == -7.0 and a.dtype == np.float32
    grad = torch.ones(2, 2, requires_grad=True)
    assert to_numpy(grad).tolist() == [[1.0, 1.0], [1.0, 1.0]]

    class DLPackOnly:  # only the DLPack protocol (no __array__): a JAX- or CuPy-like CPU array
        def __init__(self, base: np.ndarray) -> None:
            self.base = base

        def __dlpack__(self, **kwargs: object) -> object:
            return self.base.__dlpack__(**kwargs)

        def __dlpack_device__(self) -> tuple:
            return self.base.__dlpack_device__()

    base = np.arange(6, dtype=np.float32)
    view = to_numpy(DLPackOnly(base))
    base[3] = 99.0
    assert view[3] == 99.0


def test_bad_batches_name_the_fix(calib: np.ndarray) -> None:
    with pytest.raises(int8rt.InvalidArgumentError, match=r"batch 1 from list: no array for input 'input' "
                       r"\(it has: image\)"):
        _scales([{"image": calib[:BATCH]}])
    with pytest.raises(TypeError, match="derive from an int8rt calibrator class"):
        make_calibrator(type("TrtCalibrator", (), {"get_batch": lambda self, names: None})())
    with pytest.raises(TypeError, match="not understood"):
        make_calibrator(3.5)


def test_image_folder_mean_std_size(tmp_path: Path) -> None:
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(2, 6, 5, 3), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(tmp_path / f"{i}.png")
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    lines: list[str] = []
    data = load_calibration_data(tmp_path, ["x"], {"x": [-1, 3, 6, 5]}, images=ImageOptions(mean=mean, std=std),
                                 report=lines.append)["x"]
    expected = (pixels.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)
    expected = expected.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(data, expected, rtol=0, atol=1e-6)  # same size: no resampling
    assert lines == [f"calibration images: 2 files from {tmp_path}, resized to 6x5, RGB, NCHW, "
                     f"(pixel/255 - mean {list(mean)}) / std {list(std)}"]
    nhwc = load_calibration_data(tmp_path, ["x"], {"x": [-1, 6, 5, 3]},
                                 images=ImageOptions(layout="NHWC", color="BGR"))["x"]
    np.testing.assert_allclose(nhwc, pixels[..., ::-1] / np.float32(255), rtol=0, atol=1e-7)
    with pytest.raises(ValueError,
                       match=r"--size 8 8 does not match input 'x' \[-1, 3, 6, 5\] \(NCHW\): its height is 6"):
        load_calibration_data(tmp_path, ["x"], {"x": [-1, 3, 6, 5]}, images=ImageOptions(size=(8, 8)))
    with pytest.raises(ValueError, match="looks NHWC: pass --layout NHWC"):
        load_calibration_data(tmp_path, ["x"], {"x": [1, 6, 5, 3]})
    with pytest.raises(ValueError, match=r"symbolic height or width: give the image size \(--size H W\)"):
        load_calibration_data(tmp_path, ["x"], {"x": [1, 3, -1, -1]})
    resized = load_calibration_data(tmp_path, ["x"], {"x": [1, 3, -1, -1]}, images=ImageOptions(size=(4, 4)))["x"]
    assert resized.shape == (2, 3, 4, 4)


def test_image_folder_streams_in_batches(tmp_path: Path) -> None:
    """The CLI's image folders decode one batch at a time (ImageBatches) and
    give the scales of the same images loaded at once."""
    Image = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(1).integers(0, 256, size=(40, 8, 8), dtype=np.uint8)
    for i, p in enumerate(pixels):
        Image.fromarray(p).save(tmp_path / f"{i:02d}.png")
    shapes = {"input": [-1, 1, 8, 8]}
    options = ImageOptions(mean=(0.5,), std=(0.25,))
    eager = load_calibration_data(tmp_path, ["input"], shapes, images=options)
    lazy = load_calibration_data(tmp_path, ["input"], shapes, images=options, batch_size=16)
    assert len(lazy) == 3  # 16 + 16 + 8: the progress bar's total
    assert np.array_equal(np.concatenate([b["input"] for b in lazy]), eager["input"])
    assert _scales(lazy) == _scales(make_calibrator(eager, algorithm="entropy", batch_size=16))


@pytest.mark.parametrize("id_dtype", [np.int64, np.int32])
def test_array_data_keeps_integer_inputs(id_dtype: type) -> None:
    """{name: array} data for a network with integer inputs (token ids, as a
    BERT encoder or magika's byte classifier takes): the arrays keep their
    integer dtype (they were converted to float32 and refused by the build),
    and the INT8 engine sees the same tokens as the FP32 one."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    table = rng.standard_normal((50, 8)).astype(np.float32)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    elem = TensorProto.INT64 if id_dtype == np.int64 else TensorProto.INT32
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"]), helper.make_node("MatMul", ["emb", "w"], ["y"])],
        "embed", [helper.make_tensor_value_info("ids", elem, ["B", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 6, 4])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    ids = rng.integers(0, 50, (32, 6)).astype(id_dtype)
    config = int8rt.BuilderConfig(precision="int8", calibrator=make_calibrator({"ids": ids}, algorithm="minmax"))
    engine = int8rt.build_engine(model, config)
    ref = table[ids] @ w
    out = engine.create_execution_context().run({"ids": ids[:4]})["y"]
    # int8 rounding of the embeddings and weights: a few per cent of the output range
    assert np.max(np.abs(out - ref[:4])) < 0.05 * np.max(np.abs(ref))
