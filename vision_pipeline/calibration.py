"""Sensor rig calibration: how pixels of one sensor map to pixels of another.

A :class:`RigCalibration` names a *reference* sensor and, for every sensor, how its (undistorted)
pixels relate to the reference's: either directly by a 3x3 homography, or by intrinsics ``K``
and extrinsics ``R, t`` (the sensor's camera coordinates ``X_s = R @ X_ref + t``) together with
the scene plane ``n . X_ref = d`` the rig observes, which induce the homography
``H_ref->s = K_s (R + t n^T / d) K_ref^-1``. Optional lens distortion coefficients (OpenCV's
``k1, k2, p1, p2[, k3...]``) are removed before and re-applied after the homography.

File format (JSON, UTF-8)::

    {
      "format": "edge-dnn-sensor-calibration",
      "version": 1,
      "reference": "visible",
      "plane": {"normal": [0, 0, 1], "distance": 10.0},          (only for K/R/t sensors)
      "sensors": {
        "visible": {"width": 320, "height": 240,
                    "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], "dist": [k1, k2, p1, p2]},
        "thermal": {"width": 160, "height": 120,
                    "homography_to_reference": [[...], [...], [...]]},
        "lidar_cam": {"width": 640, "height": 480, "K": [[...]], "R": [[...]], "t": [x, y, z]}
      }
    }

The reference sensor needs no homography (identity) but needs ``K`` when another sensor is
given by ``K/R/t``. Every malformed file raises
:class:`~vision_pipeline.errors.SensorCalibrationError` naming the file and the key at fault.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision_pipeline.errors import SensorCalibrationError

__all__ = [
    "FORMAT_NAME",
    "RigCalibration",
    "SensorCalibration",
    "SensorMapping",
    "project_boxes",
]

FORMAT_NAME = "edge-dnn-sensor-calibration"
FORMAT_VERSION = 1


def _matrix(
    value: Any, shape: tuple[int, ...], what: str, path: str | None, invertible: bool = False
) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SensorCalibrationError(f"{what} must be numbers, got {value!r}", path) from None
    if a.shape != shape:
        raise SensorCalibrationError(
            f"{what} must have shape {list(shape)}, got {list(a.shape)}", path
        )
    if not np.isfinite(a).all():
        raise SensorCalibrationError(f"{what} holds NaN or infinite values", path)
    if invertible:
        big = float(np.abs(a).max())
        if big == 0.0 or abs(float(np.linalg.det(a / big))) < 1e-12:
            raise SensorCalibrationError(f"{what} is singular (not invertible)", path)
    return a


def _normalise(H: np.ndarray) -> np.ndarray:
    return H / H[2, 2] if abs(H[2, 2]) > 1e-12 else H


@dataclasses.dataclass(frozen=True, eq=False)
class SensorCalibration:
    """Calibration of one sensor.

    Attributes:
        name: Sensor name (matches ``Frame.sensor``).
        size: Image (height, width), pixels.
        K: 3x3 intrinsics, float64, or None.
        dist: Distortion coefficients (OpenCV order), float64, or None (no distortion).
        R: 3x3 rotation reference -> sensor camera coordinates, or None.
        t: Translation (3,), same units as the plane distance, or None.
        homography_to_reference: 3x3 mapping of this sensor's undistorted pixels to the
            reference's, or None (then derived from K/R/t and the plane).
    """

    name: str
    size: tuple[int, int]
    K: np.ndarray | None = None
    dist: np.ndarray | None = None
    R: np.ndarray | None = None
    t: np.ndarray | None = None
    homography_to_reference: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``sensors`` entry)."""
        d: dict[str, Any] = {"width": self.size[1], "height": self.size[0]}
        for key, v in (
            ("K", self.K),
            ("dist", self.dist),
            ("R", self.R),
            ("t", self.t),
            ("homography_to_reference", self.homography_to_reference),
        ):
            if v is not None:
                d[key] = v.tolist()
        return d


class SensorMapping:
    """Maps pixel coordinates from sensor ``src`` to sensor ``dst``.

    Attributes:
        src: Source sensor calibration.
        dst: Destination sensor calibration.
        H: 3x3 float64 homography between the undistorted pixels (dst ~ H @ src).
    """

    def __init__(self, src: SensorCalibration, dst: SensorCalibration, H: np.ndarray) -> None:
        self.src = src
        self.dst = dst
        self.H = _normalise(np.asarray(H, dtype=np.float64))

    def inverse(self) -> SensorMapping:
        """The mapping from ``dst`` back to ``src``."""
        return SensorMapping(self.dst, self.src, np.linalg.inv(self.H))

    def map_points(self, points: np.ndarray) -> np.ndarray:
        """Map pixel coordinates.

        Args:
            points: ``[n, 2]`` (x, y) pixels in ``src`` (any real dtype).

        Returns:
            float64 ``[n, 2]`` pixels in ``dst``; points mapped to infinity (on the horizon
            line of the homography) come back as NaN.
        """
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if p.shape[0] == 0:
            return p.copy()
        if self.src.dist is not None and self.src.K is not None:
            und = cv2.undistortPoints(p.reshape(-1, 1, 2), self.src.K, self.src.dist, P=self.src.K)
            p = np.asarray(und, dtype=np.float64).reshape(-1, 2)
        q = np.concatenate([p, np.ones((p.shape[0], 1))], axis=1) @ self.H.T
        w = q[:, 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(np.abs(w) > 1e-12, q[:, :2] / w, np.nan)
        if self.dst.dist is not None and self.dst.K is not None:
            good = np.isfinite(out).all(axis=1)
            if good.any():
                Kinv = np.linalg.inv(self.dst.K)
                hom = np.concatenate([out[good], np.ones((int(good.sum()), 1))], axis=1) @ Kinv.T
                proj, _ = cv2.projectPoints(
                    hom.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self.dst.K, self.dst.dist
                )
                out[good] = proj.reshape(-1, 2)
        return out

    def map_boxes(self, boxes: np.ndarray, clip: bool = True) -> np.ndarray:
        """Map axis-aligned boxes: the bounds of each box's 4 mapped corners.

        Args:
            boxes: ``[n, 4]`` (x0, y0, x1, y1) pixels in ``src``.
            clip: Clip to the ``dst`` image; boxes left with no area become NaN rows.

        Returns:
            float64 ``[n, 4]`` in ``dst`` (NaN rows for boxes that cannot be mapped).
        """
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        corners = np.stack(
            [b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1
        ).reshape(-1, 2)
        m = self.map_points(corners).reshape(-1, 4, 2)
        out = np.concatenate([m.min(axis=1), m.max(axis=1)], axis=1)
        if clip:
            h, w = self.dst.size
            out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0.0, float(w))
            out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0.0, float(h))
            empty = (out[:, 2] - out[:, 0] <= 0) | (out[:, 3] - out[:, 1] <= 0)
            out[empty] = np.nan
        return out


def project_boxes(H: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Map ``[n, 4]`` boxes by a bare 3x3 homography (bounds of the 4 mapped corners), float64."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)
    q = (
        np.concatenate([corners, np.ones((*corners.shape[:2], 1))], axis=2)
        @ np.asarray(H, dtype=np.float64).T
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = q[..., :2] / q[..., 2:3]
    return np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1)


class RigCalibration:
    """The calibration of a multi-sensor rig (see the module docstring).

    Args:
        reference: Name of the reference sensor.
        sensors: The sensors' calibrations (the reference included).
        plane: ``(normal (3,), distance)`` of the observed scene plane in reference camera
            coordinates; needed for sensors given by K/R/t.
        path: The file it was loaded from (for messages).

    Raises:
        SensorCalibrationError: inconsistent data (unknown reference, missing homography and
            extrinsics, missing plane or reference intrinsics, ...).
    """

    def __init__(
        self,
        reference: str,
        sensors: Mapping[str, SensorCalibration],
        plane: tuple[np.ndarray, float] | None = None,
        path: str | None = None,
    ) -> None:
        self.reference = reference
        self.sensors = dict(sensors)
        self.plane = plane
        self.path = path
        if reference not in self.sensors:
            raise SensorCalibrationError(
                f"reference sensor '{reference}' is not among the sensors {sorted(self.sensors)}",
                path,
            )
        self._to_ref: dict[str, np.ndarray] = {}
        for name, s in self.sensors.items():
            self._to_ref[name] = self._derive(name, s)

    def _derive(self, name: str, s: SensorCalibration) -> np.ndarray:
        if s.homography_to_reference is not None:
            return _normalise(s.homography_to_reference)
        if name == self.reference:
            return np.eye(3)
        ref = self.sensors[self.reference]
        if s.K is None or s.R is None or s.t is None:
            raise SensorCalibrationError(
                f"sensor '{name}' needs 'homography_to_reference' or all of 'K', 'R', 't'",
                self.path,
            )
        if ref.K is None:
            raise SensorCalibrationError(
                f"sensor '{name}' is given by K/R/t, so the reference sensor "
                f"'{self.reference}' needs 'K'",
                self.path,
            )
        if self.plane is None:
            raise SensorCalibrationError(
                f"sensor '{name}' is given by K/R/t: the file needs a 'plane' "
                "{'normal': [nx, ny, nz], 'distance': d}",
                self.path,
            )
        n, d = self.plane
        h_ref_to_s = s.K @ (s.R + np.outer(s.t, n) / d) @ np.linalg.inv(ref.K)
        if abs(float(np.linalg.det(h_ref_to_s))) < 1e-15:
            raise SensorCalibrationError(
                f"sensor '{name}': K/R/t and the plane give a singular homography", self.path
            )
        return _normalise(np.linalg.inv(h_ref_to_s))

    # ------------------------------------------------------------------ queries
    def homography(self, src: str, dst: str) -> np.ndarray:
        """3x3 float64 homography from ``src`` undistorted pixels to ``dst`` undistorted pixels.

        Raises:
            SensorCalibrationError: an unknown sensor name.
        """
        for s in (src, dst):
            if s not in self.sensors:
                raise SensorCalibrationError(
                    f"unknown sensor '{s}'; calibrated sensors: {sorted(self.sensors)}", self.path
                )
        return _normalise(np.linalg.inv(self._to_ref[dst]) @ self._to_ref[src])

    def mapping(self, src: str, dst: str) -> SensorMapping:
        """A :class:`SensorMapping` from ``src`` to ``dst`` (distortion handled)."""
        H = self.homography(src, dst)  # validates the names
        return SensorMapping(self.sensors[src], self.sensors[dst], H)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_homographies(
        cls,
        reference: str,
        sizes: Mapping[str, tuple[int, int]],
        to_reference: Mapping[str, np.ndarray],
    ) -> RigCalibration:
        """A rig from (height, width) sizes and homographies of each sensor to the reference."""
        sensors = {
            name: SensorCalibration(
                name,
                (int(hw[0]), int(hw[1])),
                homography_to_reference=None
                if name not in to_reference
                else _matrix(to_reference[name], (3, 3), f"homography of '{name}'", None, True),
            )
            for name, hw in sizes.items()
        }
        return cls(reference, sensors)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        d: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "reference": self.reference,
            "sensors": {k: v.to_dict() for k, v in self.sensors.items()},
        }
        if self.plane is not None:
            d["plane"] = {"normal": self.plane[0].tolist(), "distance": self.plane[1]}
        return d

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the JSON file.

        Raises:
            SensorCalibrationError: the file cannot be written.
        """
        try:
            Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise SensorCalibrationError(
                f"cannot write: {exc.strerror or exc}", os.fspath(path)
            ) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RigCalibration:
        """Read a calibration JSON file.

        Raises:
            SensorCalibrationError: missing/unreadable file, invalid JSON (line and column),
                wrong format name or version, missing or malformed keys (named).
        """
        p = os.fspath(path)
        try:
            text = Path(p).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SensorCalibrationError("calibration file not found", p) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SensorCalibrationError(f"cannot read: {exc}", p) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SensorCalibrationError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", p
            ) from None
        return cls.from_dict(data, path=p)

    @classmethod
    def from_dict(cls, data: Any, path: str | None = None) -> RigCalibration:
        """Build from the parsed JSON form.

        Raises:
            SensorCalibrationError: see :meth:`load`.
        """
        if not isinstance(data, dict):
            raise SensorCalibrationError("the top level must be a JSON object", path)
        if data.get("format") != FORMAT_NAME:
            raise SensorCalibrationError(
                f"'format' must be '{FORMAT_NAME}', got {data.get('format')!r}", path
            )
        if data.get("version") != FORMAT_VERSION:
            raise SensorCalibrationError(
                f"unsupported version {data.get('version')!r} (this reader: {FORMAT_VERSION})",
                path,
            )
        known = {"format", "version", "reference", "plane", "sensors"}
        extra = sorted(set(data) - known)
        if extra:
            raise SensorCalibrationError(f"unknown top-level key(s) {extra}", path)
        ref = data.get("reference")
        if not isinstance(ref, str) or not ref:
            raise SensorCalibrationError("'reference' must name a sensor", path)
        raw = data.get("sensors")
        if not isinstance(raw, dict) or not raw:
            raise SensorCalibrationError("'sensors' must be a non-empty object", path)
        sensors = {str(k): _sensor_from_dict(str(k), v, path) for k, v in raw.items()}
        plane = None
        if "plane" in data:
            pl = data["plane"]
            if not isinstance(pl, dict) or "normal" not in pl or "distance" not in pl:
                raise SensorCalibrationError(
                    "'plane' must be {'normal': [nx, ny, nz], 'distance': d}", path
                )
            n = _matrix(pl["normal"], (3,), "plane normal", path)
            norm = float(np.linalg.norm(n))
            dist = pl["distance"]
            if norm < 1e-12:
                raise SensorCalibrationError("plane normal must not be zero", path)
            if not isinstance(dist, (int, float)) or not math.isfinite(dist) or dist == 0:
                raise SensorCalibrationError(
                    f"plane distance must be a non-zero number, got {dist!r}", path
                )
            plane = (n / norm, float(dist) / norm)
        return cls(ref, sensors, plane, path)


_SENSOR_KEYS = {"width", "height", "K", "dist", "R", "t", "homography_to_reference"}


def _sensor_from_dict(name: str, d: Any, path: str | None) -> SensorCalibration:
    where = f"sensor '{name}'"
    if not isinstance(d, dict):
        raise SensorCalibrationError(f"{where} must be a JSON object", path)
    extra = sorted(set(d) - _SENSOR_KEYS)
    if extra:
        raise SensorCalibrationError(f"{where}: unknown key(s) {extra}", path)
    size = []
    for key in ("height", "width"):
        v = d.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise SensorCalibrationError(f"{where}: '{key}' must be a positive integer", path)
        size.append(v)
    K = _matrix(d["K"], (3, 3), f"{where}: 'K'", path, True) if "K" in d else None
    if K is not None and (K[2, 0] != 0 or K[2, 1] != 0 or K[2, 2] != 1):
        raise SensorCalibrationError(f"{where}: 'K' last row must be [0, 0, 1]", path)
    dist = None
    if "dist" in d:
        try:
            dist = np.asarray(d["dist"], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise SensorCalibrationError(
                f"{where}: 'dist' must be a list of numbers", path
            ) from None
        if dist.size not in (4, 5, 8, 12, 14) or not np.isfinite(dist).all():
            raise SensorCalibrationError(
                f"{where}: 'dist' must hold 4, 5, 8, 12 or 14 finite coefficients "
                f"(OpenCV order), got {dist.size}",
                path,
            )
        if K is None:
            raise SensorCalibrationError(f"{where}: 'dist' needs 'K'", path)
    R = _matrix(d["R"], (3, 3), f"{where}: 'R'", path) if "R" in d else None
    if R is not None and not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
        raise SensorCalibrationError(f"{where}: 'R' is not a rotation matrix", path)
    t = _matrix(d["t"], (3,), f"{where}: 't'", path) if "t" in d else None
    H = (
        _matrix(
            d["homography_to_reference"], (3, 3), f"{where}: 'homography_to_reference'", path, True
        )
        if "homography_to_reference" in d
        else None
    )
    return SensorCalibration(name, (size[0], size[1]), K, dist, R, t, H)
