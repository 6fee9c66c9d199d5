"""Notebooks of ``notebooks/``: committed clean, and executed against the emulated board.

``pynq get-notebooks edge-dnn`` delivers these files to a ZCU board, where they drive the real
overlay; here every notebook runs top to bottom in a fresh ``python3`` kernel (nbclient) with the
checkout's packages on ``PYTHONPATH``, its working directory ``notebooks/`` (as on a board) and
matplotlib's non-interactive Agg backend, on the emulated board. A failure names the cell, its
source and the error. In git the notebooks carry no outputs and no execution counts.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arm_scheduler.target import current_target

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = (
    "01_getting_started.ipynb",
    "02_camera_pipeline.ipynb",
    "03_quantization_accuracy.ipynb",
    "04_performance.ipynb",
    "05_own_overlay.ipynb",
)
CELL_TIMEOUT_S = 180
"""Per cell; each notebook takes well under 40 s in total on a 2-core machine."""
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _read(name: str) -> Any:
    return nbformat.read(NOTEBOOKS / name, as_version=nbformat.NO_CONVERT)


def _failure(nb: Any, exc: BaseException) -> str:
    """The first cell with an error output: its index, source and traceback."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                return (
                    f"cell {i} failed ({type(exc).__name__}):\n{cell.source}\n{'-' * 60}\n"
                    f"{out.get('ename')}: {out.get('evalue')}\n{tb}"
                )
    return f"{type(exc).__name__}: {_ANSI.sub('', str(exc))}"  # timeout, dead kernel


def test_the_five_notebooks_exist() -> None:
    present = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert set(EXPECTED) <= set(present), f"missing: {sorted(set(EXPECTED) - set(present))}"
    # edge_dnn/notebooks is what the pynq.notebooks entry point delivers
    packaged = ROOT / "edge_dnn" / "notebooks"
    assert packaged.resolve() == NOTEBOOKS.resolve()


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_is_valid_and_stripped(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", name
    assert nb.cells[0].cell_type == "markdown", f"{name}: the first cell is the introduction"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.get("outputs") == [], f"{name}: cell {i} has outputs (strip them)"
            assert cell.get("execution_count") is None, f"{name}: cell {i} has an execution count"
        assert "attachments" not in cell or not cell["attachments"], f"{name}: cell {i}"


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_executes_on_the_emulated_board(
    name: str, record_property: Callable[[str, object], None]
) -> None:
    nb = _read(name)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
    env["MPLBACKEND"] = "Agg"
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    t0 = time.perf_counter()
    try:
        client.execute(env=env)
    except Exception as exc:  # nbclient's CellExecutionError, CellTimeoutError, DeadKernelError
        pytest.fail(f"{name}: {_failure(nb, exc)}", pytrace=False)
    seconds = time.perf_counter() - t0
    record_property("seconds", round(seconds, 2))
    text = "".join(
        out.get("text", "")
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
    )
    # The first code cell says where it runs (on this machine: the emulated board).
    assert current_target().describe() in text, text[:500]
