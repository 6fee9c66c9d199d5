"""Reading Caffe text network definitions (``.prototxt``) into a normalised ``NetParameter``.

What comes out of :func:`read_prototxt` / :func:`parse_net_text` is always in current (V2) form:

* V1 (``layers {}`` with enum types) and V0 (``layers { layer { ... } }``) nets are upgraded to
  ``layer {}`` entries with type strings and ``*_param`` messages (:mod:`.upgrade`);
* every spelling of the network inputs (``input`` + ``input_dim``, ``input`` + ``input_shape``,
  ``Input`` layers) becomes ``Input`` layers placed first, and the top-level ``input*`` fields
  are cleared (:func:`normalize_inputs`);
* unless ``phase=None``, layers not in the requested phase are dropped (:func:`filter_phase`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from google.protobuf import text_format

from edge_dnn.caffe import caffe_pb2
from edge_dnn.caffe.upgrade import upgrade_net
from edge_dnn.errors import ModelFormatError, PrototxtSyntaxError

__all__ = [
    "filter_phase",
    "normalize_inputs",
    "parse_net_text",
    "read_prototxt",
    "state_meets_rule",
]

NetParameter = caffe_pb2.NetParameter

_PHASES = {"TRAIN": caffe_pb2.TRAIN, "TEST": caffe_pb2.TEST}
_LOC_PREFIX = re.compile(r"^\s*\d+:\d+\s*:\s*")


def _phase_value(phase: str | int) -> int:
    if isinstance(phase, str):
        key = phase.upper()
        if key not in _PHASES:
            raise ValueError(f"phase must be 'TRAIN' or 'TEST', got {phase!r}")
        return _PHASES[key]
    if phase not in (caffe_pb2.TRAIN, caffe_pb2.TEST):
        raise ValueError(f"phase must be TRAIN (0) or TEST (1), got {phase!r}")
    return int(phase)


def _clean_message(msg: str) -> str:
    # Users know the schema as `caffe`, not as our private package name.
    return _LOC_PREFIX.sub("", msg).replace("edgednn.caffe.", "caffe.")


def parse_net_text(
    text: str,
    path: str | None = None,
    *,
    phase: str | int | None = "TEST",
) -> caffe_pb2.NetParameter:
    """Parse a text network definition and normalise it (V2 form, Input layers, phase).

    Args:
        text: Contents of a ``.prototxt`` in protobuf text format (current, V1 or V0 Caffe).
        path: File name for error messages; ``None`` for a string.
        phase: ``"TEST"`` (default) or ``"TRAIN"`` to apply :func:`filter_phase` with that phase
            (level 0, stages from the net's own ``state``); ``None`` keeps every layer.

    Returns:
        A ``caffe_pb2.NetParameter`` with only ``layer`` entries, ``Input`` layers first and no
        top-level ``input`` / ``input_dim`` / ``input_shape``.

    Raises:
        PrototxtSyntaxError: text-format syntax error or unknown field (with 1-based line and
            column of the offending token).
        ModelFormatError: structurally invalid net (mixed V1/V2 layers, inconsistent inputs,
            include and exclude rules on one layer, V0 layers that cannot be upgraded).
    """
    net = caffe_pb2.NetParameter()
    try:
        text_format.Parse(text, net)
    except text_format.ParseError as exc:
        line = exc.GetLine() or 1
        column = exc.GetColumn() or 1
        raise PrototxtSyntaxError(_clean_message(str(exc)), path, line, column) from None
    upgrade_net(net, path)
    normalize_inputs(net, path)
    if phase is not None:
        net = filter_phase(net, phase, path=path)
    return net


def read_prototxt(
    path: str | os.PathLike[str], *, phase: str | int | None = "TEST"
) -> caffe_pb2.NetParameter:
    """Read a ``.prototxt`` file; see :func:`parse_net_text` for the normalisation applied.

    Args:
        path: File to read (UTF-8 text).
        phase: Phase to filter for (default ``"TEST"``), or ``None`` to keep every layer.

    Returns:
        The normalised ``caffe_pb2.NetParameter``.

    Raises:
        ModelFormatError: the file cannot be read or is not text (e.g. a binary caffemodel).
        PrototxtSyntaxError: see :func:`parse_net_text`.
    """
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ModelFormatError(f"cannot read prototxt: {exc.strerror or exc}", p) from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark from Windows editors
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ModelFormatError(
            f"not a UTF-8 text file (invalid byte at offset {exc.start}, line {line}); "
            "is this a binary .caffemodel passed as the prototxt?",
            p,
        ) from None
    if "\x00" in text:
        raise ModelFormatError(
            "contains NUL bytes, so it is not a text prototxt; is this a binary .caffemodel?", p
        )
    return parse_net_text(text, p, phase=phase)


def normalize_inputs(
    net: caffe_pb2.NetParameter, path: str | None = None
) -> caffe_pb2.NetParameter:
    """Turn the top-level ``input`` spellings into ``Input`` layers placed first (in place).

    ``input`` + ``input_shape`` (one shape per input) and ``input`` + ``input_dim`` (four
    numbers, N C H W, per input) each become one ``Input`` layer per input blob, named after the
    blob (``input_<blob>`` if a layer of that name already exists). Existing ``Input`` layers
    keep their order and follow them. The ``input``, ``input_shape`` and ``input_dim`` fields
    are cleared. An input given without any shape yields an ``Input`` layer without a shape.

    Args:
        net: ``caffe_pb2.NetParameter`` in V2 form (run :func:`.upgrade.upgrade_net` first).
        path: File name for error messages.

    Returns:
        The same ``net``.

    Raises:
        ModelFormatError: the number of shapes does not match the number of inputs.
    """
    names = list(net.input)
    shapes = list(net.input_shape)
    dims = list(net.input_dim)
    if not names and (shapes or dims):
        raise ModelFormatError("'input_shape'/'input_dim' given without any 'input' name", path)
    new_layers = []
    if names:
        per_input: list[list[int] | None]
        if shapes and dims:
            if len(shapes) + len(dims) // 4 != len(names) or len(dims) % 4:
                raise ModelFormatError(
                    f"{len(names)} input(s) but {len(shapes)} input_shape and {len(dims)} "
                    "input_dim values; give one input_shape or four input_dim values per input",
                    path,
                )
            # Mixed spellings: input_shape entries go to the first inputs, input_dim to the rest.
            per_input = [list(s.dim) for s in shapes]
            per_input += [dims[i : i + 4] for i in range(0, len(dims), 4)]
        elif shapes:
            if len(shapes) != len(names):
                raise ModelFormatError(
                    f"{len(names)} input(s) but {len(shapes)} input_shape entries; "
                    "give exactly one input_shape per input",
                    path,
                )
            per_input = [list(s.dim) for s in shapes]
        elif dims:
            if len(dims) != 4 * len(names):
                raise ModelFormatError(
                    f"{len(names)} input(s) but {len(dims)} input_dim values; give four "
                    "(N, C, H, W) per input",
                    path,
                )
            per_input = [dims[i : i + 4] for i in range(0, len(dims), 4)]
        else:
            per_input = [None] * len(names)
        taken = {lp.name for lp in net.layer}
        for blob, shape in zip(names, per_input):
            lp = caffe_pb2.LayerParameter()
            lp.name = blob if blob not in taken else f"input_{blob}"
            taken.add(lp.name)
            lp.type = "Input"
            lp.top.append(blob)
            if shape is not None:
                lp.input_param.shape.add().dim.extend(shape)
            new_layers.append(lp)
    existing_inputs = [lp for lp in net.layer if lp.type == "Input"]
    others = [lp for lp in net.layer if lp.type != "Input"]
    ordered = new_layers + [_copy(lp) for lp in existing_inputs] + [_copy(lp) for lp in others]
    net.ClearField("input")
    net.ClearField("input_shape")
    net.ClearField("input_dim")
    net.ClearField("layer")
    net.layer.extend(ordered)
    return net


def _copy(msg: Any) -> Any:
    new = type(msg)()
    new.CopyFrom(msg)
    return new


def state_meets_rule(state: caffe_pb2.NetState, rule: caffe_pb2.NetStateRule) -> bool:
    """Caffe's ``StateMeetsRule``: does a ``NetState`` satisfy a ``NetStateRule``?

    The rule is met when its phase (if set) equals the state's phase, the state's level is within
    ``[min_level, max_level]`` (each bound only if set), the state has every ``stage`` of the
    rule and none of its ``not_stage`` entries.
    """
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    if any(s not in stages for s in rule.stage):
        return False
    return not any(s in stages for s in rule.not_stage)


def filter_phase(
    net: caffe_pb2.NetParameter,
    phase: str | int = "TEST",
    level: int = 0,
    stages: Sequence[str] | None = None,
    *,
    path: str | None = None,
) -> caffe_pb2.NetParameter:
    """Keep only the layers that Caffe would instantiate for the given net state.

    Follows Caffe's ``Net::FilterNet``: a layer with ``include`` rules is kept if at least one
    rule is met; a layer with ``exclude`` rules is kept if none is met; a layer with neither is
    kept. In addition, a layer whose own ``phase`` field is set to the other phase is dropped.

    Args:
        net: ``caffe_pb2.NetParameter`` in V2 form; not modified.
        phase: ``"TEST"`` / ``"TRAIN"`` (or the enum value).
        level: Net state level (Caffe's default 0).
        stages: Active stages; ``None`` takes them from the net's own ``state.stage``.
        path: File name for error messages.

    Returns:
        A new ``NetParameter`` with the filtered layers and ``state`` set to the state used.

    Raises:
        ModelFormatError: a layer has both include and exclude rules (Caffe rejects this).
        ValueError: ``phase`` is not TRAIN/TEST.
    """
    phase_v = _phase_value(phase)
    state = caffe_pb2.NetState()
    state.phase = phase_v  # type: ignore[assignment]
    state.level = level
    state.stage.extend(net.state.stage if stages is None else stages)
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    out.ClearField("layer")
    kept = []
    for lp in net.layer:
        if len(lp.include) and len(lp.exclude):
            raise ModelFormatError(
                f"layer '{lp.name}': specify either include or exclude rules, not both", path
            )
        if lp.HasField("phase") and lp.phase != phase_v:
            continue
        if len(lp.include):
            keep = any(state_meets_rule(state, r) for r in lp.include)
        else:
            keep = not any(state_meets_rule(state, r) for r in lp.exclude)
        if keep:
            kept.append(lp)
    out.layer.extend(kept)
    out.state.CopyFrom(state)
    return out
