"""pytest plugin: mirror every ``Engine.run`` of a test session in the HLS C simulation.

Loaded by ``tests/golden/test_hls_csim.py`` into a child pytest run of the emulator's unit tests
(``-p tests.golden.csim_mirror``): each port-level run of the Python emulator is repeated by the
C-simulation harness from the same buffer contents, command stream and packets, and must give
the same act_out packets and the same four buffers afterwards, or, when the emulator raises an
:class:`EngineFault`, the same ``ERROR_CODE``. The emulator's result is then returned (or its
fault re-raised), so the unit tests run unchanged.

Environment: ``EDGE_DNN_CSIM_DIR`` (binary cache folder, :func:`build_csim`) and
``EDGE_DNN_CSIM_LOG`` (one line appended per mirrored run: ``ok`` or ``fault <CODE>``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from edge_dnn.emulator.csim import CsimState, build_csim, run_engine_csim
from edge_dnn.emulator.engine import Engine
from edge_dnn.emulator.errors import EngineFault


def _log(line: str) -> None:
    with open(os.environ["EDGE_DNN_CSIM_LOG"], "a") as f:
        f.write(line + "\n")


def pytest_configure(config: pytest.Config) -> None:
    outdir = os.environ["EDGE_DNN_CSIM_DIR"]
    original = Engine.run

    def mirrored(
        self: Engine, cmd: Any, streams: Mapping[str, Sequence[object]] | None = None
    ) -> dict[str, list[np.ndarray]]:
        before = CsimState.of_engine(self)
        exe = build_csim(self.cfg.name, outdir)
        try:
            out = original(self, cmd, streams)
        except EngineFault as e:
            try:
                run_engine_csim(exe, self.cfg, cmd, streams, before)
            except EngineFault as f:
                assert f.code == e.code, (
                    f"emulator fault {e.code.name}, C simulation {f.code.name}: {e} / {f}"
                )
                _log(f"fault {e.code.name}")
                raise e from None
            raise AssertionError(f"the emulator faulted ({e}) but the C simulation ran") from None
        got = run_engine_csim(exe, self.cfg, cmd, streams, before)
        assert set(got) == set(out), f"act_out streams {sorted(got)} vs {sorted(out)}"
        for name, pkts in out.items():
            mine = got[name]
            assert len(mine) == len(pkts), f"{name}: {len(mine)} packets, emulator {len(pkts)}"
            for k, (a, b) in enumerate(zip(mine, pkts)):
                assert np.array_equal(a, np.asarray(b).reshape(-1)), f"{name} packet {k} differs"
        for name, arr in zip(CsimState.NAMES, before.arrays()):
            ref = getattr(self, name)
            diff = np.flatnonzero(arr.reshape(-1) != ref.reshape(-1))
            assert not diff.size, f"{name} buffer differs in {diff.size} bytes, first {diff[0]}"
        _log("ok")
        return out

    Engine.run = mirrored  # type: ignore[method-assign]
