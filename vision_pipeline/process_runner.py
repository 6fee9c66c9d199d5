"""Run a compiled model in a child process: inference that does not hold the pipeline's GIL.

The emulated board computes in Python and numpy, holding the interpreter lock most of the time,
so in the threaded pipeline its inference stage and the capture / post-processing stages take
turns instead of overlapping. :class:`ProcessRunner` moves the runner (the emulated board by
default) into a child process with its own interpreter: the inference thread only sends the
input and waits for the outputs on a pipe (the lock is released while it waits), as it waits for
the engine's DMA completion on a real board.

It implements :class:`~vision_pipeline.backends.ModelRunnerLike`, so it plugs into
:class:`~vision_pipeline.backends.CompiledBackend` (``runner=ProcessRunner(model)``) and into
:func:`~vision_pipeline.app.build_pipeline` (``runner_factory=ProcessRunner``).

Protocol on the pipe (pickled tuples): the child answers ``("ready", None)`` or
``("error", (type name, message))`` after loading the model; then every ``("run", feeds, raw)``
gets ``("ok", outputs)`` or ``("error", ...)``; ``("close",)`` (or the pipe closing) ends it.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import threading
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import numpy as np

from edge_dnn.compiler.model import CompiledModel
from vision_pipeline.errors import PipelineError

__all__ = ["DEFAULT_FACTORY", "ProcessRunner", "RunnerProcessError"]

DEFAULT_FACTORY = "edge_dnn.emulator.run:ModelRunner"
"""The runner built in the child: ``"module:callable"`` called with the model."""


class RunnerProcessError(PipelineError):
    """The child process failed: it did not start, died, or its runner raised (the message
    names the original error type)."""


def _load(factory: str) -> Any:
    module, _, attr = factory.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _serve(conn: Connection, edm: bytes, factory: str) -> None:
    """The child's loop (module level: importable by a spawned interpreter)."""
    try:
        runner = _load(factory)(CompiledModel.from_bytes(edm))
    except BaseException as exc:  # report anything, the parent raises it typed
        conn.send(("error", (type(exc).__name__, str(exc))))
        conn.close()
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg[0] != "run":
                break
            try:
                conn.send(("ok", runner.run(msg[1], raw=msg[2])))
            except Exception as exc:  # the runner's error goes back to the caller
                conn.send(("error", (type(exc).__name__, str(exc))))
    finally:
        close = getattr(runner, "close", None)
        if callable(close):
            close()
        conn.close()


class ProcessRunner:
    """A compiled model's runner living in a child process (see the module docstring).

    Args:
        model: The compiled model (sent to the child as ``.edm`` bytes).
        factory: ``"module:callable"`` making the runner from the model in the child (default:
            the emulated board, :data:`DEFAULT_FACTORY`).
        start_timeout: Seconds the child may take to start and load the model.
        run_timeout: Seconds one ``run`` may take before the child is declared hung.
        start_method: ``multiprocessing`` start method; ``spawn`` (default) is safe in a
            process that already runs threads. As always with ``spawn``, the program's main
            module must be importable without side effects (``if __name__ == "__main__":``).

    Raises:
        RunnerProcessError: the child did not become ready (its error is in the message).
    """

    def __init__(
        self,
        model: CompiledModel,
        factory: str = DEFAULT_FACTORY,
        start_timeout: float = 60.0,
        run_timeout: float = 60.0,
        start_method: str = "spawn",
    ) -> None:
        self.model_name = model.name
        self.run_timeout = float(run_timeout)
        ctx: Any = multiprocessing.get_context(start_method)
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve,
            args=(child, model.to_bytes(), factory),
            name=f"vision-runner-{model.name}",
            daemon=True,  # never outlives the pipeline's process
        )
        self._lock = threading.Lock()
        self._closed = False
        self._proc.start()
        child.close()
        try:
            kind, payload = self._receive(start_timeout, "start")
        except BaseException:
            self.close()
            raise
        if kind != "ready":
            self.close()
            raise RunnerProcessError(
                f"runner process for model '{model.name}' ({factory}) failed to start: "
                f"{payload[0]}: {payload[1]}"
            )

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return self._proc.pid

    def _receive(self, timeout: float, what: str) -> tuple[str, Any]:
        waited = 0.0
        while not self._conn.poll(0.1):
            waited += 0.1
            if not self._proc.is_alive():
                raise RunnerProcessError(
                    f"runner process of model '{self.model_name}' died during {what} "
                    f"(exit code {self._proc.exitcode})"
                )
            if waited >= timeout:
                raise RunnerProcessError(
                    f"runner process of model '{self.model_name}': no answer to {what} within "
                    f"{timeout:g} s"
                )
        try:
            msg: tuple[str, Any] = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise RunnerProcessError(
                f"runner process of model '{self.model_name}' closed the pipe during {what}"
            ) from exc
        return msg

    def run(self, feeds: dict[str, np.ndarray], raw: bool = False) -> dict[str, np.ndarray]:
        """Run the model in the child (float32 NCHW feeds, batch 1; see ``ModelRunnerLike``).

        Raises:
            RunnerProcessError: the child died, hung, or its runner raised.
        """
        with self._lock:
            if self._closed:
                raise RunnerProcessError(f"runner of model '{self.model_name}' is closed")
            try:
                self._conn.send(
                    ("run", {k: np.ascontiguousarray(v) for k, v in feeds.items()}, raw)
                )
            except (OSError, ValueError) as exc:
                raise RunnerProcessError(
                    f"runner process of model '{self.model_name}' is gone: {exc}"
                ) from exc
            kind, payload = self._receive(self.run_timeout, "run")
        if kind != "ok":
            raise RunnerProcessError(
                f"model '{self.model_name}' failed in the runner process: "
                f"{payload[0]}: {payload[1]}"
            )
        out: dict[str, np.ndarray] = payload
        return out

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child (idempotent): ask, wait ``timeout`` seconds, then terminate it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError, ValueError):  # the child may be gone already
                self._conn.send(("close",))
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout)
            self._conn.close()

    def __enter__(self) -> ProcessRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
