"""The ``edge-dnn`` command line: info, run, weights (in-process, through ``main``)."""

from __future__ import annotations

import json
from pathlib import Path

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
