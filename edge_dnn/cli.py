"""The ``edge-dnn`` command line.

Each sub-command is a small function registered in ``_COMMANDS``; every error edge-dnn raises on
purpose is printed as one line naming the place, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

import numpy as np

from edge_dnn.caffe.importer import load_caffe, save_caffemodel
from edge_dnn.errors import EdgeDnnError, InputError
from edge_dnn.graph import Graph


def _load(args: argparse.Namespace) -> Graph:
    graph = load_caffe(args.prototxt, getattr(args, "weights", None))
    seed = getattr(args, "random_weights", None)
    if seed is not None:
        graph.init_random_weights(seed)
    return graph


def cmd_info(args: argparse.Namespace) -> int:
    """``edge-dnn info``: per-layer table and totals."""
    graph = _load(args)
    if args.json:
        rows = [r.as_dict() for r in graph.summary()]
        doc = {
            "name": graph.name,
            "inputs": {k: list(v) for k, v in graph.inputs.items()},
            "outputs": graph.outputs,
            "layers": rows,
            "total_params": sum(r["params"] for r in rows),
            "total_macs": sum(r["macs"] for r in rows),
        }
        print(json.dumps(doc, indent=1))
    else:
        print(graph.format_summary())
    return 0


def parse_input_specs(specs: Sequence[str], graph_inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Parse ``[BLOB=]FILE.npy`` arguments into a feed dict.

    Raises:
        InputError: unreadable file, or a bare file for a multi-input network.
    """
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        blob, sep, path = spec.partition("=")
        if not sep:
            path = blob
            if len(graph_inputs) != 1:
                raise InputError(
                    f"--input {spec}: the network has inputs {list(graph_inputs)}; "
                    "write BLOB=FILE.npy"
                )
            blob = graph_inputs[0]
        try:
            feeds[blob] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"--input {spec}: cannot read '{path}' as .npy: {exc}") from exc
    return feeds


def cmd_run(args: argparse.Namespace) -> int:
    """``edge-dnn run``: float golden model on .npy inputs, outputs to an .npz."""
    graph = _load(args)
    feeds = parse_input_specs(args.input, list(graph.inputs))
    blobs = [b for b in args.blobs.split(",") if b] if args.blobs else None
    outs = graph.run(feeds, outputs=blobs)
    np.savez(args.output, **outs)  # type: ignore[arg-type]
    for k, v in outs.items():
        print(f"{k}: shape {list(v.shape)} min {v.min():.6g} max {v.max():.6g}")
    print(f"wrote {args.output}")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    """``edge-dnn weights``: seeded random weights written as a real caffemodel."""
    graph = load_caffe(args.prototxt)
    graph.init_random_weights(args.seed)
    save_caffemodel(graph, args.output)
    total = sum(n.num_params for n in graph.nodes)
    print(f"wrote {args.output}: {total:,} parameters (seed {args.seed})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    p = argparse.ArgumentParser(prog="edge-dnn", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="per-layer table of a Caffe network")
    info.add_argument("prototxt")
    info.add_argument("--weights", help="caffemodel (checks blob shapes)")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_info)

    run = sub.add_parser("run", help="run the float golden model")
    run.add_argument("prototxt")
    w = run.add_mutually_exclusive_group(required=True)
    w.add_argument("--weights", help="caffemodel")
    w.add_argument("--random-weights", type=int, metavar="SEED", help="seeded random weights")
    run.add_argument("--input", action="append", required=True, metavar="[BLOB=]X.npy")
    run.add_argument("--output", required=True, metavar="OUT.npz")
    run.add_argument("--blobs", help="comma-separated blobs to write (default: net outputs)")
    run.set_defaults(func=cmd_run)

    wt = sub.add_parser("weights", help="write seeded random weights as a caffemodel")
    wt.add_argument("prototxt")
    wt.add_argument("--seed", type=int, default=0)
    wt.add_argument("-o", "--output", required=True)
    wt.set_defaults(func=cmd_weights)
    for register in _EXTRA_COMMANDS:
        register(sub)
    return p


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []
"""Registration hooks of the sub-commands other modules add (quantize, compile, ...)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edge-dnn`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except EdgeDnnError as exc:
        print(f"edge-dnn: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
