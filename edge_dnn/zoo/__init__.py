"""Networks bundled with edge-dnn, each in a folder of this package.

A bundled model folder ``<name>/`` holds ``<name>.prototxt`` (Caffe deploy net),
``<name>.caffemodel`` (binary weights), ``metrics.json`` (how it was trained, its preprocessing
and its float accuracy) and, for models with an evaluation set, ``split.json``.

Bundled models:

* ``digits``: an 8x8 handwritten-digit CNN trained by ``tools/train_digits.py``
  (see :mod:`edge_dnn.train.digits`); float held-out accuracy in its ``metrics.json``.
* ``synthdet``: a small heat-map detector of the synthetic two-sensor scenes (visible and
  thermal) trained by ``vision_pipeline.train_detector``; float held-out precision and recall per
  sensor in its ``metrics.json``.

Example::

    import edge_dnn
    from edge_dnn.zoo import zoo_path, model_files

    proto, weights = model_files("digits")
    g = edge_dnn.load_caffe(proto, weights)
"""

from __future__ import annotations

from pathlib import Path

from edge_dnn.errors import EdgeDnnError

_ROOT = Path(__file__).resolve().parent


def available_models() -> list[str]:
    """Names of the bundled models (folders holding ``<name>.prototxt``), sorted."""
    return sorted(
        p.name for p in _ROOT.iterdir() if p.is_dir() and (p / f"{p.name}.prototxt").is_file()
    )


def zoo_path(name: str) -> Path:
    """Folder of the bundled model ``name``.

    Raises:
        EdgeDnnError: no bundled model of that name (the message lists the available ones).
    """
    p = _ROOT / name
    if name in available_models():
        return p
    raise EdgeDnnError(
        f"no bundled model '{name}' in {_ROOT}; available: {', '.join(available_models()) or '-'}"
    )


def model_files(name: str) -> tuple[Path, Path]:
    """``(prototxt, caffemodel)`` paths of the bundled model ``name``.

    Raises:
        EdgeDnnError: unknown model, or its caffemodel is missing from the installation.
    """
    d = zoo_path(name)
    proto, weights = d / f"{name}.prototxt", d / f"{name}.caffemodel"
    if not weights.is_file():
        raise EdgeDnnError(f"bundled model '{name}': weights file {weights} is missing")
    return proto, weights
