"""OpenCV image decoding for edge_dnn (the ``opencv`` entry point of ``edge_dnn.image_readers``).

edge_dnn never imports OpenCV itself; it finds this reader through the entry-point group and
calls it as ``read_image(path, size=(h, w) or None, grayscale=False)``.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from edge_dnn.errors import ImageReadError

__all__ = ["read_image"]


def read_image(
    path: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    grayscale: bool = False,
) -> np.ndarray:
    """Decode an image file the way Caffe does (``cv::imread`` colour or grey, then resize).

    Whatever the file holds (grey, grey + alpha, BGRA, 16-bit, palette), the result is 8-bit:
    colour decoding (``IMREAD_COLOR``) gives 3 BGR channels (alpha dropped, grey replicated,
    16-bit scaled to 8-bit), grey decoding (``IMREAD_GRAYSCALE``) gives one channel. The file is
    read as bytes and decoded in memory, so non-ASCII paths work on every platform.

    Args:
        path: The image file (any format OpenCV decodes: PNG, JPEG, BMP, TIFF, WebP, PNM, ...).
        size: (height, width) to resize to with bilinear interpolation (``cv2.INTER_LINEAR``,
            Caffe's ``new_height``/``new_width`` behaviour), or None to keep the file's size.
        grayscale: Decode as a single grey channel.

    Returns:
        uint8 array, H x W x 3 (BGR) or H x W (grey), C-contiguous.

    Raises:
        ImageReadError: the file is missing, unreadable, empty or not a decodable image, or
            ``size`` is invalid (names the file).
    """
    p = os.fspath(path)
    if size is not None and (len(size) != 2 or any(int(v) != v or int(v) <= 0 for v in size)):
        raise ImageReadError(f"invalid target size {size!r}; expected (height, width)", p)
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc.strerror or exc}", p) from None
    if data.size == 0:
        raise ImageReadError("empty file, not an image", p)
    flags = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
    try:
        img = cv2.imdecode(data, flags)
    except cv2.error as exc:
        raise ImageReadError(f"OpenCV cannot decode the file: {exc}", p) from None
    if img is None or img.size == 0:
        raise ImageReadError("not a readable image (unsupported format or corrupt data)", p)
    if img.dtype != np.uint8:  # imdecode without IMREAD_ANYDEPTH already gives 8 bit
        raise ImageReadError(f"decoded to unexpected dtype {img.dtype}", p)
    if size is not None:
        h, w = int(size[0]), int(size[1])
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(img)
