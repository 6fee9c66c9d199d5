"""Regenerate edge_dnn/caffe/caffe_pb2.py and caffe_pb2.pyi from edge_dnn/caffe/caffe.proto.

Usage (from anywhere)::

    python tools/gen_proto.py          # rewrite the generated files in place
    python tools/gen_proto.py --check  # exit 1 if a committed generated file is stale

The generated files are committed so that users need no protoc. protoc runs with the repository
root as its only import path, so the descriptor is registered as ``edge_dnn/caffe/caffe.proto``
and the module imports as ``edge_dnn.caffe.caffe_pb2``. It uses ``grpc_tools.protoc`` (the
grpcio-tools wheel bundles protoc), so the output depends on the grpcio-tools version: CI must
pin the same version as the one that generated the committed files.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = Path("edge_dnn/caffe/caffe.proto")
OUTPUTS = (Path("edge_dnn/caffe/caffe_pb2.py"), Path("edge_dnn/caffe/caffe_pb2.pyi"))


def generate(out_dir: Path) -> None:
    """Run protoc on the schema, writing the generated files below ``out_dir``.

    Args:
        out_dir: Directory that plays the role of the repository root for the outputs.

    Raises:
        RuntimeError: protoc failed.
    """
    from grpc_tools import protoc  # imported here: only the generator needs grpcio-tools

    args = [
        "grpc_tools.protoc",
        f"--proto_path={ROOT}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        str(ROOT / PROTO),
    ]
    rc = protoc.main(args)
    if rc != 0:
        raise RuntimeError(f"protoc failed with exit code {rc} on {PROTO}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary directory and fail if the committed files differ",
    )
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        generate(tmp_dir)
        stale = []
        for rel in OUTPUTS:
            fresh = tmp_dir / rel
            current = ROOT / rel
            if ns.check:
                if not current.exists() or not filecmp.cmp(fresh, current, shallow=False):
                    stale.append(rel)
            else:
                shutil.copyfile(fresh, current)
                print(f"wrote {rel}")
        if stale:
            for rel in stale:
                print(
                    f"{rel} is stale: regenerate with `python tools/gen_proto.py`", file=sys.stderr
                )
            return 1
    if ns.check:
        print("generated protobuf code is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
