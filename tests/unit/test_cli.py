"""The ``edge-dnn`` command line: info, run, weights (in-process, through ``main``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edge_dnn
from edge_dnn.cli import main


def test_info_table_and_json(nets_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = nets_dir / "lenet"
    assert (
        main(
            ["info", str(d / "lenet.prototxt"), "--weights", str(d / "lenet_iter_10000.caffemodel")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "conv1" in out and "Convolution" in out and "431,080 parameters" in out
    assert main(["info", str(d / "lenet.prototxt"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inputs"] == {"data": [64, 1, 28, 28]}
    assert doc["total_params"] == 0  # no weights given
    assert [r["name"] for r in doc["layers"]][:3] == ["data", "conv1", "pool1"]
    assert doc["layers"][1]["macs"] == 64 * 20 * 24 * 24 * 25


def test_run_with_real_weights_matches_peer(nets_dir: Path, tmp_path: Path) -> None:
    d = nets_dir / "lenet"
    out = tmp_path / "o.npz"
    rc = main(
        [
            "run", str(d / "lenet.prototxt"),
            "--weights", str(d / "lenet_iter_10000.caffemodel"),
            "--input", f"data={d / 'peer_opencv412' / 'input_data.npy'}",
            "--output", str(out), "--blobs", "ip2,prob",
        ]
    )  # fmt: skip
    assert rc == 0
    got = np.load(out)
    assert set(got.files) == {"ip2", "prob"}
    ref = np.load(d / "peer_opencv412" / "prob.npy")
    assert np.abs(got["prob"].reshape(ref.shape) - ref).max() <= 1e-4


def test_weights_then_run_random(nets_dir: Path, tmp_path: Path) -> None:
    proto = nets_dir / "squeezenet_v1.1" / "deploy.prototxt"
    w = tmp_path / "sq.caffemodel"
    assert main(["weights", str(proto), "--seed", "5", "-o", str(w)]) == 0
    x = np.random.default_rng(0).standard_normal((1, 3, 227, 227)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert (
        main(
            [
                "run",
                str(proto),
                "--weights",
                str(w),
                "--input",
                str(tmp_path / "x.npy"),
                "--output",
                str(a),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "run",
                str(proto),
                "--random-weights",
                "5",
                "--input",
                str(tmp_path / "x.npy"),
                "--output",
                str(b),
            ]
        )
        == 0
    )
    ra, rb = np.load(a), np.load(b)
    assert ra.files == rb.files == ["prob"]
    assert np.array_equal(ra["prob"], rb["prob"])
    g = edge_dnn.load_caffe(proto, w)
    assert np.allclose(g.run(x)["prob"], ra["prob"], rtol=0, atol=0)


def test_errors_are_one_line_exit_2(
    nets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.prototxt"
    bad.write_text('layer { name: "x" type: "Input" top: "x"\n  bogus: 1 }\n')
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edge-dnn: error: ") and f"{bad}:2:" in err
    d = nets_dir / "lenet"
    assert (
        main(
            [
                "run",
                str(d / "lenet.prototxt"),
                "--random-weights",
                "1",
                "--input",
                str(tmp_path / "missing.npy"),
                "--output",
                str(tmp_path / "o.npz"),
            ]
        )
        == 2
    )
    assert "missing.npy" in capsys.readouterr().err


# ============================================================================ compile: preprocess
_TINY = (
    'name: "tiny"\n'
    'layer { name: "data" type: "Input" top: "data" '
    "input_param { shape { dim: 1 dim: 3 dim: 12 dim: 12 } } }\n"
    'layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" '
    "convolution_param { num_output: 4 kernel_size: 3 } }\n"
)


def _compile_tiny(tmp_path: Path, *flags: str, calib: Path | None = None) -> tuple[int, Path]:
    proto = tmp_path / "tiny.prototxt"
    proto.write_text(_TINY)
    if calib is None:
        calib = tmp_path / "x.npy"
        rng = np.random.default_rng(0)
        np.save(calib, rng.uniform(-1, 1, (2, 3, 12, 12)).astype(np.float32))
    out = tmp_path / "tiny.edm"
    args = ["compile", str(proto), "--random-weights", "1", "--overlay", "zcu104"]
    args += ["--calib", str(calib), "--method", "minmax", "-o", str(out), *flags]
    return main(args), out


def _recorded(path: Path) -> Any:
    from edge_dnn.compiler import load_model
    from edge_dnn.quant.calib_data import Preprocess

    pre = load_model(path).preprocess
    return None if pre is None else Preprocess.from_dict(pre)


def test_compile_records_the_caffe_transform(tmp_path: Path) -> None:
    from edge_dnn.quant.calib_data import Preprocess

    flags = ("--mean", "104,117,123", "--scale", "0.017", "--rgb", "--resize", "16x14")
    rc, out = _compile_tiny(tmp_path, *flags, "--crop-size", "12")
    assert rc == 0
    assert _recorded(out) == Preprocess(
        resize=(16, 14), crop_size=12, mean_value=(104, 117, 123), scale=0.017, channel_order="RGB"
    )
    # pycaffe's raw_scale: pixels in [0, 1]; folded into pixel units
    rc, out = _compile_tiny(tmp_path, "--raw-scale", "1", "--mean", "0.5", "--scale", "2")
    assert rc == 0
    got = _recorded(out)
    assert got.mean_value == (127.5,) and got.scale == 2 / 255 and got.resize == (12, 12)
    assert got.channel_order == "BGR" and not got.grayscale
    # no flag: arrays record nothing, as before
    rc, out = _compile_tiny(tmp_path)
    assert rc == 0 and _recorded(out) is None


def test_compile_embeds_a_mean_file(tmp_path: Path) -> None:
    from edge_dnn.caffe import caffe_pb2

    mean = np.random.default_rng(1).uniform(0, 255, (1, 3, 12, 12)).astype(np.float32)
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(mean.shape)
    blob.data.extend(mean.ravel().tolist())
    path = tmp_path / "mean.binaryproto"
    path.write_bytes(blob.SerializeToString())
    rc, out = _compile_tiny(tmp_path, "--mean-file", str(path))
    assert rc == 0
    got = _recorded(out)
    path.unlink()  # the .edm does not need the file any more
    assert got.mean_file == str(path) and np.array_equal(got.mean_blob, mean[0])
    rc, out = _compile_tiny(tmp_path, "--mean-file", str(tmp_path / "gone.binaryproto"))
    assert rc == 2


def test_compile_applies_the_flags_to_image_calibration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cv2

    from edge_dnn.quant import calib_data
    from vision_pipeline.images import read_image

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(2):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    seen: list[Any] = []
    real = calib_data.load_calibration

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("preprocess"))
        # the checkout is not installed: no entry point registers the OpenCV reader
        return real(*args, **{**kwargs, "reader": read_image})

    monkeypatch.setattr(calib_data, "load_calibration", spy)
    flags = ("--mean", "128", "--scale", "0.0078125", "--resize", "16,16", "--crop-size", "12")
    rc, out = _compile_tiny(tmp_path, *flags, calib=folder)
    assert rc == 0
    assert seen == [_recorded(out)] and seen[0].crop_size == 12


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--mean", "1,2"), "2 values for input 'data' with 3 channel(s)"),
        (("--mean", "a,b,c"), "expected comma-separated numbers"),
        (("--crop-size", "10"), "the crop must give the input size of 'data', 12x12"),
        (("--resize", "10,10"), "without --crop-size"),
        (("--resize", "10,10", "--crop-size", "12"), "smaller than --crop-size 12"),
        (("--resize", "12"), "expected 2 numbers"),
        (("--raw-scale", "0"), "must be > 0"),
    ],
)
def test_compile_preprocessing_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...], message: str
) -> None:
    rc, _ = _compile_tiny(tmp_path, *flags)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("edge-dnn: error:") and message in err, err
    with pytest.raises(SystemExit):
        _compile_tiny(tmp_path, "--mean", "1", "--mean-file", "m.binaryproto")
