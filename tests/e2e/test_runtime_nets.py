"""Every shared network (seeded weights) and the trained digits net: prototxt -> quantize ->
compile -> arm_scheduler.Runtime on the emulated board (pynq's MMIO / allocate / DMA objects)
-> outputs equal the integer reference bit for bit. Plus LeNet and YuFaceDetectNet served
concurrently from two threads on one emulated overlay.

The quantized graphs, inputs and references are the golden test's session caches.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from arm_scheduler.emulated.device import EmulatedDevice
from arm_scheduler.runtime import Runtime
from tests.golden.test_emulator_vs_reference import NETS, assert_same, compiled, net

pytestmark = pytest.mark.e2e

_DEVICE: dict[str, EmulatedDevice] = {}


def board() -> EmulatedDevice:
    """One emulated ZCU104 board for the whole session (1 GiB of DDR)."""
    if "zcu104" not in _DEVICE:
        _DEVICE["zcu104"] = EmulatedDevice(ddr_bytes=1 << 30)
    return _DEVICE["zcu104"]


@pytest.mark.parametrize("key", list(NETS))
def test_network_through_the_runtime_is_bit_exact(key: str, nets_dir: Path) -> None:
    n = net(key, nets_dir)
    # The deadline is host wall time: emulating a large run takes far longer than the board.
    with Runtime(compiled(key, "zcu104", nets_dir), board(), max_in_flight=1, timeout=900) as rt:
        out = rt.run(n.feeds, raw=True, timeout=900)
        for t in n.qg.outputs:
            assert_same(out[t], n.ref[t], f"{key} through the runtime, output '{t}'")
        assert all(p["calls"] == 1 for p in rt.profile())


def test_lenet_and_yuface_concurrently(nets_dir: Path) -> None:
    keys = ("lenet", "yufacedetectnet_v1")
    runtimes = {k: Runtime(compiled(k, "zcu104", nets_dir), board(), timeout=900) for k in keys}
    errors: list[str] = []

    def serve(key: str) -> None:
        try:
            n = net(key, nets_dir)
            futs = [runtimes[key].submit(n.feeds, raw=True) for _ in range(3)]
            for f in futs:
                out = f.result(timeout=300)
                for t in n.qg.outputs:
                    if not np.array_equal(out[t], n.ref[t]):
                        errors.append(f"{key}: output '{t}' differs")
        except Exception as exc:  # reported by the assertion below
            errors.append(f"{key}: {exc!r}")

    threads = [threading.Thread(target=serve, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    for rt in runtimes.values():
        rt.close()
    assert not errors
    assert not any(t.is_alive() for t in threads)
