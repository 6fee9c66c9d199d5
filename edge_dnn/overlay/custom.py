"""Bring your own overlay configuration: from TOML text to a configuration the tools can find.

A new overlay starts as a copy of an existing ``overlay.toml`` with a few keys changed
(:func:`edit_overlay_text`), is validated from its text (:func:`overlay_from_text`), and is
written into a folder of the overlay search path (:func:`install_overlay`), after which
:func:`~edge_dnn.overlay.config.load_overlay`, the compiler, the runtime and the CLI find it by
name like a bundled one.

Example::

    from edge_dnn.overlay.config import find_overlay
    from edge_dnn.overlay.custom import edit_overlay_text, install_overlay

    text = edit_overlay_text(
        find_overlay("ultra96").read_text(),
        {"overlay.name": "my_u96", "pe.pixels": 12, "pe.requant_lanes": 12},
    )
    cfg = install_overlay(text, "my_overlays")  # my_overlays/my_u96/overlay.toml
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edge_dnn.overlay.config import (
    CONFIG_FILE,
    ENV_OVERLAY_PATH,
    OverlayConfig,
    find_overlay,
    load_overlay,
    parse_overlay,
)
from edge_dnn.overlay.errors import OverlayConfigError, OverlayNotFoundError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10 (PYNQ images)
    import tomli as tomllib

__all__ = ["edit_overlay_text", "install_overlay", "overlay_from_text", "toml_value"]

_HEADER_RE = re.compile(r"^\s*\[([A-Za-z0-9_.\-]+)\]\s*(#.*)?$")
_KEY_RE = re.compile(r"^(\s*)([A-Za-z0-9_\-]+)(\s*=\s*)(.*?)(\s*#[^\"']*)?$")


def overlay_from_text(text: str, source: str | os.PathLike[str] | None = None) -> OverlayConfig:
    """Validate an ``overlay.toml`` given as text.

    Args:
        text: The TOML document (schema of ``docs/overlay.md``).
        source: Name used in error messages (default ``<text>``).

    Returns:
        The frozen, validated configuration with its derived values (``cfg.source`` is
        ``source``).

    Raises:
        OverlayConfigError: invalid TOML, or a key missing, unknown, of the wrong type or out
            of range (the message names the dotted key).
    """
    where = Path(source) if source is not None else Path("<text>")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise OverlayConfigError(f"invalid TOML: {e}", where) from None
    return parse_overlay(data, where)


def toml_value(value: Any) -> str:
    """A Python value as a TOML literal (bool, int, float, str or a list of those).

    Raises:
        OverlayConfigError: a value of another type (tables are edited key by key).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise OverlayConfigError(f"cannot write a {type(value).__name__} as a TOML value: {value!r}")


def edit_overlay_text(text: str, changes: Mapping[str, Any]) -> str:
    """Change single-line ``key = value`` entries of an ``overlay.toml`` text, keeping the rest.

    Comments, layout and every other line are preserved, so the result reads like a hand edit
    of the original file.

    Args:
        text: The original TOML text.
        changes: Dotted key (``"pe.pixels"``, ``"buffers.input.depth"``, ``"overlay.name"``)
            -> new value (see :func:`toml_value`).

    Returns:
        The edited text (not validated: pass it to :func:`overlay_from_text`).

    Raises:
        OverlayConfigError: a key that is not exactly once in the text as a one-line entry of
            its table, or whose value is an inline table (the register map's entries).
    """
    lines = text.splitlines(keepends=True)
    found: dict[str, list[int]] = {k: [] for k in changes}
    table = ""
    for i, line in enumerate(lines):
        head = _HEADER_RE.match(line)
        if head:
            table = head.group(1)
            continue
        m = _KEY_RE.match(line.rstrip("\r\n"))
        if m is None:
            continue
        dotted = f"{table}.{m.group(2)}" if table else m.group(2)
        if dotted in found:
            found[dotted].append(i)
    for key, where in found.items():
        if len(where) != 1:
            what = "is not a one-line entry of" if not where else "appears more than once in"
            raise OverlayConfigError(f"{what} the text; cannot change it", key=key)
        i = where[0]
        end = lines[i][len(lines[i].rstrip("\r\n")) :]
        m = _KEY_RE.match(lines[i].rstrip("\r\n"))
        assert m is not None
        old = m.group(4)
        triple = old[:3] if old.startswith(('"""', "'''")) else ""
        if (triple and (len(old) < 6 or not old.endswith(triple))) or old.count("[") != old.count(
            "]"
        ):
            raise OverlayConfigError("spans several lines; cannot change it", key=key)
        if old.startswith("{"):
            raise OverlayConfigError("is an inline table; cannot change it as a whole", key=key)
        comment = m.group(5) or ""
        lines[i] = f"{m.group(1)}{m.group(2)}{m.group(3)}{toml_value(changes[key])}{comment}{end}"
    return "".join(lines)


def _add_to_search_path(folder: Path) -> None:
    entries = [p for p in os.environ.get(ENV_OVERLAY_PATH, "").split(os.pathsep) if p]
    resolved = {Path(p).resolve() for p in entries}
    if folder.resolve() not in resolved:
        os.environ[ENV_OVERLAY_PATH] = os.pathsep.join([str(folder), *entries])


def install_overlay(text: str, folder: str | os.PathLike[str]) -> OverlayConfig:
    """Validate an overlay text, write it as ``folder/<name>/overlay.toml`` and make it findable.

    ``folder`` is put first on ``$EDGE_DNN_OVERLAYS`` of this process, so that
    ``load_overlay(name)`` (and with it the compiler, the emulated board, the runtime and the
    CLI started from this process) finds the new overlay by name.

    Args:
        text: The TOML document.
        folder: Folder to hold the overlay's sub-folder (created if needed).

    Returns:
        The configuration as read back from the written file.

    Raises:
        OverlayConfigError: invalid text, or its name is already used by another overlay on the
            search path (a bundled one must not be shadowed).
    """
    cfg = overlay_from_text(text)
    root = Path(folder)
    path = root / cfg.name / CONFIG_FILE
    try:
        existing: Path | None = find_overlay(cfg.name)
    except OverlayNotFoundError:
        existing = None
    if existing is not None and existing.resolve() != path.resolve():
        raise OverlayConfigError(
            f"an overlay named '{cfg.name}' already exists at {existing}; choose another "
            "overlay.name",
            key="overlay.name",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise OverlayConfigError(f"cannot write: {e.strerror or e}", path) from None
    _add_to_search_path(root)
    return load_overlay(cfg.name)
