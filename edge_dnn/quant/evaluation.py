"""Classifier evaluation on a labelled set: the confusion matrix and what follows from it.

Used to look at a quantized or compiled classifier beyond its top-1 accuracy (which classes it
confuses), e.g. the bundled ``digits`` network on its held-out set. numpy only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge_dnn.errors import InputError

__all__ = ["confusion_matrix", "per_class_recall"]


def _classes(a: npt.ArrayLike, what: str) -> np.ndarray:
    v = np.asarray(a)
    if v.ndim != 1:
        raise InputError(f"{what}: expected a 1-D array of class ids, got shape {v.shape}")
    if v.size and not np.issubdtype(v.dtype, np.integer):
        raise InputError(f"{what}: expected integer class ids, got dtype {v.dtype}")
    return v.astype(np.int64)


def confusion_matrix(
    labels: npt.ArrayLike, predicted: npt.ArrayLike, num_classes: int | None = None
) -> np.ndarray:
    """Counts of (true class, predicted class) pairs.

    Args:
        labels: True class ids, int (N,).
        predicted: Predicted class ids, int (N,) (e.g. ``scores.argmax(axis=1)``).
        num_classes: Number of classes (default: the largest id + 1).

    Returns:
        int64 (num_classes, num_classes): row = true class, column = predicted class; the
        diagonal holds the correct predictions, ``m.trace() / m.sum()`` is the top-1 accuracy.

    Raises:
        InputError: arrays of different lengths, non-integer or negative ids, or an id
            ``>= num_classes``.
    """
    y = _classes(labels, "labels")
    p = _classes(predicted, "predicted")
    if y.shape != p.shape:
        raise InputError(f"{y.size} labels but {p.size} predictions")
    top = int(max(y.max(initial=-1), p.max(initial=-1))) + 1
    n = top if num_classes is None else int(num_classes)
    if n < 1:
        raise InputError(f"num_classes must be >= 1, got {n}")
    if y.size and (min(y.min(), p.min()) < 0 or top > n):
        raise InputError(f"class ids must be in [0, {n}), got [{min(y.min(), p.min())}, {top - 1}]")
    return np.bincount(y * n + p, minlength=n * n).reshape(n, n).astype(np.int64)


def per_class_recall(matrix: npt.ArrayLike) -> np.ndarray:
    """Fraction of each true class predicted correctly (NaN for a class with no samples).

    Args:
        matrix: A confusion matrix (rows = true class), as from :func:`confusion_matrix`.

    Returns:
        float64 (num_classes,).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InputError(f"a confusion matrix is square, got shape {m.shape}")
    rows = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(m) / rows, np.nan)
