"""The ``edge-dnn`` command line.

Each sub-command is a small function registered in ``_COMMANDS``; every error edge-dnn raises on
purpose is printed as one line naming the place, with exit status 2.

Other packages add sub-commands through the ``edge_dnn.commands`` entry-point group (e.g.
``pipeline = "vision_pipeline.cli:register"`` in pyproject.toml), so this module never imports
them by name; see :func:`plugin_commands`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import numpy as np

from edge_dnn.caffe.importer import load_caffe, save_caffemodel
from edge_dnn.errors import EdgeDnnError, InputError
from edge_dnn.graph import Graph

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib


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
    """``edge-dnn run``: a Caffe net on the float golden model, or a compiled ``.edm`` on the
    integer reference or the engine emulator; outputs to an .npz."""
    if _is_edm(args.model):
        return _run_compiled(args)
    if args.weights is None and args.random_weights is None:
        raise InputError(f"{args.model}: a prototxt needs --weights or --random-weights")
    if args.backend not in (None, "float"):
        raise InputError(
            f"--backend {args.backend} runs a compiled model (.edm); '{args.model}' is a "
            "prototxt (float golden model)"
        )
    args.prototxt = args.model
    graph = _load(args)
    feeds = parse_input_specs(args.input, list(graph.inputs))
    blobs = [b for b in args.blobs.split(",") if b] if args.blobs else None
    outs = graph.run(feeds, outputs=blobs)
    return _write_outputs(args.output, outs)


def _is_edm(path: str) -> bool:
    from edge_dnn.compiler.model import MAGIC

    if path.endswith(".edm"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _write_outputs(path: str, outs: dict[str, np.ndarray]) -> int:
    np.savez(path, **outs)  # type: ignore[arg-type]
    for k, v in outs.items():
        print(f"{k}: {v.dtype} shape {list(v.shape)} min {v.min():.6g} max {v.max():.6g}")
    print(f"wrote {path}")
    return 0


def _run_compiled(args: argparse.Namespace) -> int:
    from edge_dnn.compiler import load_model

    model = load_model(args.model)
    feeds = parse_input_specs(args.input, list(model.inputs))
    backend = args.backend or "emulator"
    if args.blobs:
        raise InputError("--blobs applies to a prototxt; a compiled model writes its outputs")
    if backend == "reference":
        if model.reference is None:
            raise InputError(
                f"{args.model}: written without its quantized graph; use --backend emulator"
            )
        outs = model.reference.run(feeds, outputs=list(model.outputs), raw=args.raw)
    elif backend == "emulator":
        from edge_dnn.emulator.run import run_compiled

        outs = run_compiled(model, feeds, raw=args.raw)
    else:
        raise InputError(f"--backend {backend}: a compiled model runs on reference or emulator")
    return _write_outputs(args.output, {k: outs[k] for k in model.outputs})


def cmd_profile(args: argparse.Namespace) -> int:
    """``edge-dnn profile``: the performance model's per-layer table and totals (modeled)."""
    from edge_dnn.compiler import load_model
    from edge_dnn.perf import profile_model

    model = load_model(args.model)
    prof = profile_model(model)
    if args.json:
        print(json.dumps(prof.as_dict(), indent=1))
    else:
        print(prof.format())
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    """``edge-dnn weights``: seeded random weights written as a real caffemodel."""
    graph = load_caffe(args.prototxt)
    graph.init_random_weights(args.seed)
    save_caffemodel(graph, args.output)
    total = sum(n.num_params for n in graph.nodes)
    print(f"wrote {args.output}: {total:,} parameters (seed {args.seed})")
    return 0


def parse_overrides(specs: Sequence[str]) -> dict[str, str]:
    """Parse ``LAYER=int8|int16`` arguments of ``--override``.

    Raises:
        InputError: a malformed argument.
    """
    out: dict[str, str] = {}
    for spec in specs:
        layer, sep, prec = spec.partition("=")
        if not sep or not layer or prec not in ("int8", "int16"):
            raise InputError(f"--override {spec}: write LAYER=int8 or LAYER=int16")
        out[layer] = prec
    return out


def cmd_quantize(args: argparse.Namespace) -> int:
    """``edge-dnn quantize``: calibrate, quantize, and print the per-layer accuracy table."""
    from edge_dnn.quant.calib_data import load_calibration
    from edge_dnn.quant.quantizer import quantize
    from edge_dnn.quant.report import make_report

    graph = _load(args)
    overrides = parse_overrides(args.override or [])
    calib = load_calibration(args.calib, graph, limit=args.limit, batch_size=args.batch_size)
    qg = quantize(
        graph,
        calib,
        method=args.method,
        precision=args.precision,
        overrides=overrides,
        sqnr_threshold_db=args.sqnr_threshold,
    )
    report = make_report(qg, calib)
    print(report.format_table())
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(report.to_json() + "\n")
        print(f"wrote {args.output}")
    return 0


def _numbers(flag: str, text: str, count: int | None = None) -> list[float]:
    """Comma-separated numbers of a command-line flag (``x`` also separates two)."""
    parts = [p for p in text.replace("x", ",").replace("X", ",").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"{flag} {text}: expected comma-separated numbers") from None
    if not values or (count is not None and len(values) != count):
        want = f"{count} numbers" if count is not None else "numbers"
        raise InputError(f"{flag} {text}: expected {want}")
    return values


def preprocess_from_args(args: argparse.Namespace, graph: Graph) -> Any:
    """The input preprocessing the ``compile`` flags describe, or None when none is given.

    The flags follow Caffe's ``transform_param`` (``mean_value`` / ``mean_file``, ``scale``,
    ``crop_size``), an ImageData layer's ``new_height`` / ``new_width`` (``--resize``), the
    channel order the network was trained with (``--bgr``, Caffe's default, or ``--rgb``) and
    pycaffe's ``raw_scale`` (pixels in ``[0, R]``), which is folded into the mean and the scale:
    ``(p * R / 255 - mean) * scale == (p - mean * 255 / R) * (scale * R / 255)``. Grey is
    decoded for a 1-channel input.

    Returns:
        An :class:`~edge_dnn.quant.calib_data.Preprocess`, or None.

    Raises:
        InputError: malformed values, a multi-input network, or a geometry that does not give
            the network input size. CalibrationError / ModelFormatError: an invalid or
            unreadable mean.
    """
    from edge_dnn.quant.calib_data import Preprocess

    given = [
        args.mean is not None,
        args.mean_file is not None,
        args.scale is not None,
        args.raw_scale is not None,
        args.channel_order is not None,
        args.resize is not None,
        args.crop_size is not None,
    ]
    if not any(given):
        return None
    if len(graph.inputs) != 1:
        raise InputError(
            f"preprocessing flags describe one image input; the network has inputs "
            f"{list(graph.inputs)}"
        )
    name, shape = next(iter(graph.inputs.items()))
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise InputError(
            f"preprocessing flags need an image input [N, 1 or 3, H, W]; input '{name}' is "
            f"{list(shape)}"
        )
    C, H, W = (int(d) for d in shape[1:])
    raw = 255.0 if args.raw_scale is None else float(args.raw_scale)
    if not raw > 0:
        raise InputError(f"--raw-scale {args.raw_scale}: must be > 0")
    unit = 255.0 / raw  # pixel units per raw_scale unit
    mean: tuple[float, ...] = ()
    if args.mean is not None:
        mean = tuple(v * unit for v in _numbers("--mean", args.mean))
        if len(mean) not in (1, C):
            raise InputError(
                f"--mean {args.mean}: {len(mean)} values for input '{name}' with {C} channel(s) "
                f"(give 1 or {C}, in the network's channel order)"
            )
    scale = (1.0 if args.scale is None else float(args.scale)) / unit
    crop = args.crop_size
    if crop is not None and (crop <= 0 or (crop, crop) != (H, W)):
        raise InputError(
            f"--crop-size {crop}: the crop must give the input size of '{name}', {H}x{W}"
        )
    resize: tuple[int, int] | None = None
    if args.resize is not None:
        hw = _numbers("--resize", args.resize, 2)
        if any(v != int(v) or v <= 0 for v in hw):
            raise InputError(f"--resize {args.resize}: expected two positive integers H,W")
        resize = (int(hw[0]), int(hw[1]))
    if crop is None:
        if resize is not None and resize != (H, W):
            raise InputError(
                f"--resize {args.resize}: without --crop-size frames must be resized to the "
                f"input size of '{name}', {H},{W}"
            )
        resize = (H, W)
    elif resize is not None and (resize[0] < crop or resize[1] < crop):
        raise InputError(f"--resize {args.resize} is smaller than --crop-size {crop}")
    pre = Preprocess(
        resize=resize,
        crop_size=crop,
        mean_value=mean,
        mean_file=args.mean_file,
        scale=scale,
        channel_order=args.channel_order or "BGR",
        grayscale=C == 1,
    ).resolve()  # the mean file is read now and embedded in the .edm
    if pre.mean_blob is not None:
        blob = pre.mean_blob
        if unit != 1.0:
            # a mean file in raw_scale units, as pycaffe's: rescaled to pixel units
            pre = dataclasses.replace(pre, mean_file=None, mean_blob=blob * np.float32(unit))
        if resize is not None and blob.shape != (C, *resize):
            raise InputError(
                f"--mean-file {args.mean_file}: mean of shape {list(blob.shape)} does not match "
                f"the resized image {[C, *resize]}"
            )
    return pre


def cmd_compile(args: argparse.Namespace) -> int:
    """``edge-dnn compile``: calibrate, quantize and compile for an overlay; write an .edm."""
    from edge_dnn.compiler import compile_model, format_report
    from edge_dnn.quant.calib_data import load_calibration
    from edge_dnn.quant.quantizer import quantize

    graph = _load(args)
    pre = preprocess_from_args(args, graph)
    # Arrays are already preprocessed (the flags describe how they were made); images are
    # preprocessed here exactly as the recorded specification says.
    arrays = Path(args.calib).suffix.lower() in (".npy", ".npz")
    calib = load_calibration(
        args.calib,
        graph,
        preprocess=None if arrays else pre,
        limit=args.limit,
        batch_size=args.batch_size,
    )
    qg = quantize(
        graph,
        calib,
        method=args.method,
        precision=args.precision,
        overrides=parse_overrides(args.override or []),
    )
    model = compile_model(qg, args.overlay, preprocess=pre if pre is not None else calib.preprocess)
    model.save(args.output)
    print(format_report(model.report))
    print(f"wrote {args.output}")
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

    run = sub.add_parser(
        "run", help="run a prototxt (float golden model) or a compiled .edm (integer)"
    )
    run.add_argument("model", metavar="NET.prototxt|M.edm")
    w = run.add_mutually_exclusive_group()
    w.add_argument("--weights", help="caffemodel (prototxt only)")
    w.add_argument("--random-weights", type=int, metavar="SEED", help="seeded random weights")
    run.add_argument("--input", action="append", required=True, metavar="[BLOB=]X.npy")
    run.add_argument("--output", required=True, metavar="OUT.npz")
    run.add_argument("--blobs", help="prototxt: comma-separated blobs to write (default: outputs)")
    run.add_argument(
        "--backend",
        choices=("float", "reference", "emulator"),
        help="float: golden model of a prototxt (default for one); reference: the integer "
        "reference of a compiled model; emulator: the engine emulator executing its command "
        "stream (default for an .edm)",
    )
    run.add_argument("--raw", action="store_true", help="compiled model: write the integer tensors")
    run.set_defaults(func=cmd_run)

    pf = sub.add_parser("profile", help="modeled per-layer performance of a compiled .edm")
    pf.add_argument("model", metavar="M.edm")
    pf.add_argument("--json", action="store_true", help="machine-readable output")
    pf.set_defaults(func=cmd_profile)

    wt = sub.add_parser("weights", help="write seeded random weights as a caffemodel")
    wt.add_argument("prototxt")
    wt.add_argument("--seed", type=int, default=0)
    wt.add_argument("-o", "--output", required=True)
    wt.set_defaults(func=cmd_weights)

    qz = sub.add_parser("quantize", help="quantize with calibration data, print the accuracy")
    qz.add_argument("prototxt")
    qz.add_argument("--weights", required=True, help="caffemodel")
    qz.add_argument("--calib", required=True, help="folder of images, image, .npy or .npz")
    qz.add_argument("--method", choices=("minmax", "percentile", "kl"), default="kl")
    qz.add_argument("--precision", choices=("int8", "int16", "mixed"), default="int8")
    qz.add_argument("--override", action="append", metavar="LAYER=int16", help="per layer")
    qz.add_argument(
        "--sqnr-threshold",
        type=float,
        default=30.0,
        metavar="DB",
        help="mixed: promote layers whose own SQNR is below this (default 30)",
    )
    qz.add_argument("--limit", type=int, help="use at most this many calibration samples")
    qz.add_argument("--batch-size", type=int, default=8)
    qz.add_argument("-o", "--output", metavar="REPORT.json", help="write the report as JSON")
    qz.set_defaults(func=cmd_quantize)

    cp = sub.add_parser("compile", help="quantize and compile for an overlay into an .edm")
    cp.add_argument("prototxt")
    w = cp.add_mutually_exclusive_group(required=True)
    w.add_argument("--weights", help="caffemodel")
    w.add_argument("--random-weights", type=int, metavar="SEED", help="seeded random weights")
    cp.add_argument("--overlay", required=True, help="overlay name or overlay.toml path")
    cp.add_argument("--calib", required=True, help="folder of images, image, .npy or .npz")
    cp.add_argument("--method", choices=("minmax", "percentile", "kl"), default="kl")
    cp.add_argument("--precision", choices=("int8", "int16", "mixed"), default="int8")
    cp.add_argument("--override", action="append", metavar="LAYER=int16", help="per layer")
    cp.add_argument("--limit", type=int, help="use at most this many calibration samples")
    cp.add_argument("--batch-size", type=int, default=8)
    cp.add_argument("-o", "--output", required=True, metavar="M.edm")
    pp = cp.add_argument_group(
        "input preprocessing",
        "Recorded in the .edm for the runtime (edge-dnn pipeline) and applied to image "
        "calibration data; .npy/.npz calibration data must already be preprocessed this way. "
        "Default: resize to the input size, BGR (grey for 1 channel), no mean, scale 1.",
    )
    mean = pp.add_mutually_exclusive_group()
    mean.add_argument(
        "--mean",
        metavar="B,G,R",
        help="mean_value: per-channel means in the network's channel order, or one for all",
    )
    mean.add_argument(
        "--mean-file", metavar="M.binaryproto", help="mean_file: a mean image (embedded)"
    )
    pp.add_argument(
        "--scale", type=float, metavar="S", help="scale: multiplier after the mean (default 1)"
    )
    pp.add_argument(
        "--raw-scale",
        type=float,
        metavar="R",
        help="pycaffe raw_scale: the network saw pixels in [0, R] and --mean is in those units "
        "(default 255: 8-bit pixels as they are)",
    )
    order = pp.add_mutually_exclusive_group()
    order.add_argument(
        "--bgr",
        dest="channel_order",
        action="store_const",
        const="BGR",
        help="the network takes BGR channels (Caffe's default)",
    )
    order.add_argument(
        "--rgb",
        dest="channel_order",
        action="store_const",
        const="RGB",
        help="the network takes RGB channels (frames are reversed)",
    )
    pp.add_argument(
        "--resize",
        metavar="H,W",
        help="resize frames to H,W before the crop (ImageData new_height,new_width; default: "
        "the input size, or the frame's size with --crop-size)",
    )
    pp.add_argument(
        "--crop-size", type=int, metavar="N", help="crop_size: center crop of N x N pixels"
    )
    cp.set_defaults(func=cmd_compile, channel_order=None)
    for register in _EXTRA_COMMANDS:
        register(sub)
    for ep in plugin_commands():
        _register_plugin(sub, ep)
    return p


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []
"""Registration hooks of the sub-commands other modules add (quantize, compile, ...)."""

COMMAND_GROUP = "edge_dnn.commands"
"""Entry-point group of sub-commands from other packages: ``<command> = "<module>:<function>"``,
where ``function(subparsers)`` adds the sub-command ``<command>`` to the ``edge-dnn`` parser."""


def _checkout_entry_points() -> list[EntryPoint]:
    """The :data:`COMMAND_GROUP` entry points declared in the source checkout's pyproject.toml.

    When edge-dnn runs from a checkout on ``PYTHONPATH`` without ``pip install``, no package
    metadata exists, so its own pyproject.toml declarations are not registered anywhere; they
    are read from the file next to the package instead (the same single declaration, no module
    named here). An installed edge-dnn has no pyproject.toml beside it and gets none.
    """
    path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    project = doc.get("project")
    if not isinstance(project, dict) or project.get("name") != "edge-dnn":
        return []
    group = project.get("entry-points", {}).get(COMMAND_GROUP, {})
    if not isinstance(group, dict):
        return []
    return [EntryPoint(str(k), str(v), COMMAND_GROUP) for k, v in group.items()]


def plugin_commands() -> list[EntryPoint]:
    """The sub-command plugins: installed :data:`COMMAND_GROUP` entry points, plus those the
    source checkout declares (for names no installed entry point provides), by name."""
    found = {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}
    for ep in _checkout_entry_points():
        found.setdefault(ep.name, ep)
    return [found[k] for k in sorted(found)]


def _register_plugin(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], ep: EntryPoint
) -> None:
    """Let a plugin add its sub-command; if it cannot be loaded (e.g. a missing optional
    dependency), add a stand-in that reports why when the command is used."""
    if ep.name in sub.choices:
        return  # the built-in commands win
    try:
        register = ep.load()
        if not callable(register):
            raise TypeError(f"{ep.value} is not callable")
        register(sub)
        return
    except Exception as exc:  # a plugin's import may fail in any way (missing cv2, ...)
        reason = f"{type(exc).__name__}: {exc}"
    if ep.name in sub.choices:
        return  # the plugin failed after adding its parser: keep it, argparse reports errors
    msg = f"command '{ep.name}' ({ep.value}) is unavailable: {reason}"
    # Every argument of the stand-in is a positional (no option prefix it knows), so that any
    # command line reaches the message below instead of an argparse usage error.
    stub = sub.add_parser(
        ep.name, help=f"(unavailable: {reason})", add_help=False, prefix_chars="\x00"
    )
    stub.add_argument("rest", nargs=argparse.REMAINDER)

    def unavailable(args: argparse.Namespace) -> int:
        raise EdgeDnnError(msg)

    stub.set_defaults(func=unavailable)


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
