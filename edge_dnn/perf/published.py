"""Published figures the performance model is validated against, and how they are compared.

Source: ``shared/reference/published_performance.md`` (CHaiDNN v2 ``PERFORMANCE_SNAPSHOT.md``;
Vitis AI 1.4 model zoo). The mapping (``docs/performance.md``):

* ``chaidnn_zu7_512`` mirrors CHaiDNN's 512-DSP ZU7 build, which runs every layer call on
  two images (``XBATCH_SIZE`` 2) and counts both: its published images/s is a *throughput*,
  compared with the model's streamed fps (per image; the mirror's ``[perf]`` table shares the
  per-call costs between the two images). 8-bit, "without FC" column (CHaiDNN runs FC on the
  ARM in a second thread; the mirror runs it on the engine, about 1% of its modeled time).
* ``dpu_b4096_zu7`` mirrors one DPU B4096 core of the ZCU104; the zoo's single-thread figure
  runs one frame at a time on one core, compared with the model's batch-1 fps.

Tolerance: +-35% (the issue's acceptance band).
"""

from __future__ import annotations

import dataclasses

__all__ = ["PUBLISHED", "TARGETS", "TOLERANCE", "Published"]

TOLERANCE = 0.35
"""Accepted relative deviation of a modeled figure from the published one."""


@dataclasses.dataclass(frozen=True)
class Published:
    """One published figure.

    Attributes:
        overlay: The mirror overlay that models the published design.
        network: Key of the network (``googlenet``, ``resnet50``).
        fps: Published images per second.
        metric: Which modeled figure it is compared with: ``fps_stream`` or ``fps_batch1``.
        source: Where the figure comes from.
    """

    overlay: str
    network: str
    fps: float
    metric: str
    source: str


_CHAI = "CHaiDNN v2 PERFORMANCE_SNAPSHOT, ZCU104 512 DSP, 8-bit without FC"
_DPU = "Vitis AI 1.4 model zoo, ZCU104, 1 thread"
PUBLISHED: tuple[Published, ...] = (
    Published("chaidnn_zu7_512", "googlenet", 94.43, "fps_stream", _CHAI),
    Published("chaidnn_zu7_512", "resnet50", 26.09, "fps_stream", _CHAI),
    Published("dpu_b4096_zu7", "googlenet", 189.8, "fps_batch1", _DPU + ", cf_inceptionv1"),
    Published("dpu_b4096_zu7", "resnet50", 77.5, "fps_batch1", _DPU + ", cf_resnet50"),
)

TARGETS: dict[tuple[str, str], float] = {
    # The reVISION roadmap figure for GoogLeNet int8 batch 1 (ZU9) and the ResNet-50 goal.
    ("zcu104", "googlenet"): 370.0,
    ("zcu104", "resnet50"): 150.0,
}
"""Modeled batch-1 fps the ``zcu104`` overlay must reach (issue #4)."""
