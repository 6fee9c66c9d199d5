"""The performance model (:mod:`edge_dnn.perf.model`): modeled board time per layer and in total.

``edge-dnn profile M.edm [--json]`` prints it; ``docs/performance.md`` states the model and its
assumptions.
"""

from __future__ import annotations

from edge_dnn.perf.model import ArmCostModel, LayerProfile, Profile, profile_model

__all__ = ["ArmCostModel", "LayerProfile", "Profile", "profile_model"]
