"""Run a :class:`~edge_dnn.compiler.model.CompiledModel` on the emulated board.

The emulated board is one DDR image (:meth:`MemoryPlan.image`), one :class:`Engine` and a
*direct DMA feeder*: for every engine step it checks the transfer lists (inside the image, the
DDR hazard rule of ``docs/engine.md`` section 2), gathers each MM2S packet from its descriptors
and pushes it into the engine's input port, runs the command stream, then scatters every S2MM
packet into DDR through its descriptors. ARM steps run the layer's integer reference
(``forward_int``) on NCHW arrays: tensors in ARM memory, or converted from their DDR layout;
their outputs are written back to DDR (blocked, zero-padded) when they have a layout.

The runtime on the board (``arm_scheduler``) does the same with real DMA channels; a timed DMA
model can replace :class:`DirectFeeder` by driving the engine's ports packet by packet
(:meth:`Engine.advance`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from edge_dnn.compiler.model import ArmStep, CompiledModel, EngineStep
from edge_dnn.emulator.engine import Engine, EngineCounters
from edge_dnn.emulator.errors import DdrHazardError, DmaError
from edge_dnn.overlay.config import OverlayConfig, load_overlay

__all__ = ["DirectFeeder", "ModelRunner", "StepStats", "check_transfers", "run_compiled"]


@dataclasses.dataclass(frozen=True)
class StepStats:
    """What one engine step did.

    Attributes:
        index: Step index in :attr:`CompiledModel.steps`.
        layers: The layers it executed.
        counters: The engine's counters of the run (cycles, MACs, bytes per stream, ...).
    """

    index: int
    layers: tuple[str, ...]
    counters: EngineCounters


def _describe(stream: str, k: int, offset: int, length: int) -> str:
    return f"{stream} descriptor {k} [0x{offset:X}, 0x{offset + length:X})"


def check_transfers(step: EngineStep, image_size: int, cfg: OverlayConfig) -> None:
    """Check an engine step's transfer lists before running it.

    Rules: every descriptor has a positive length and lies inside the DDR image; every stream
    of the overlay but ``cmd`` has a list and no other key exists; within the run, no DDR byte
    is written twice and no byte read by an MM2S channel is written by an S2MM channel
    (``docs/engine.md`` section 2: MM2S channels prefetch, so such a read could see stale or
    new data).

    Raises:
        DmaError: a descriptor outside the image, a bad length or an unknown stream.
        DdrHazardError: two transfers overlapping against the rule (names both).
    """
    names = [s.name for s in cfg.streams if s.role != "cmd"]
    unknown = sorted(set(step.transfers) - set(names))
    if unknown:
        raise DmaError(f"transfer lists for unknown streams {unknown} (overlay streams: {names})")
    reads: list[tuple[int, int, str]] = []
    writes: list[tuple[int, int, str]] = []
    for s in cfg.streams:
        if s.role == "cmd" or s.name not in step.transfers:
            continue
        rows = np.asarray(step.transfers[s.name], dtype=np.int64).reshape(-1, 3)
        for k, (off, n, _) in enumerate(rows.tolist()):
            if n <= 0 or off < 0 or off + n > image_size:
                raise DmaError(
                    f"{_describe(s.name, k, off, n)}: outside the {image_size}-byte DDR image "
                    "or empty"
                )
            (writes if s.role == "act_out" else reads).append(
                (off, off + n, _describe(s.name, k, off, n))
            )
    writes.sort()
    for a, b in itertools.pairwise(writes):
        if b[0] < a[1]:
            raise DdrHazardError("a DDR range is written twice in one engine run", a[2], b[2])
    if not writes or not reads:
        return
    starts = np.array([w[0] for w in writes], dtype=np.int64)
    ends = np.array([w[1] for w in writes], dtype=np.int64)
    r_start = np.array([r[0] for r in reads], dtype=np.int64)
    r_end = np.array([r[1] for r in reads], dtype=np.int64)
    # writes are disjoint and sorted: the last write starting before a read's end is the only
    # candidate that can overlap it
    j = np.searchsorted(starts, r_end, side="left") - 1
    hit = (j >= 0) & (ends[np.maximum(j, 0)] > r_start)
    if hit.any():
        k = int(np.flatnonzero(hit)[0])
        raise DdrHazardError(
            "an MM2S channel reads DDR bytes an S2MM channel writes in the same engine run",
            reads[k][2],
            writes[int(j[k])][2],
        )


@dataclasses.dataclass(frozen=True)
class _TransferPlan:
    """A step's checked transfer lists: per MM2S stream its packets as ``(offset, length)``
    descriptors; per S2MM stream its packets as (descriptors, total bytes)."""

    gather: dict[str, list[list[tuple[int, int]]]]
    scatter: dict[str, list[tuple[list[tuple[int, int]], int]]]


_PLAN_CACHE = 256


class DirectFeeder:
    """The simplest DMA model: gathers every MM2S packet up front, scatters S2MM packets after.

    Equivalent to the hardware's prefetching channels because, by the DDR hazard rule, nothing
    an MM2S channel reads is written during the run.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._plans: dict[tuple[int, tuple[tuple[str, bytes], ...]], _TransferPlan] = {}

    def run(self, step: EngineStep, image: np.ndarray) -> EngineCounters:
        """Execute one engine step against the DDR image (modified in place).

        Raises:
            EngineFault: the engine stopped with an error.
            DmaError, DdrHazardError: the transfer lists are inconsistent.
        """
        eng = self.engine
        plan = self._plan(step, image.size)
        packets: dict[str, list[np.ndarray]] = {}
        for name, plans in plan.gather.items():
            # a one-descriptor packet is pushed as a view of the image: by the hazard rule
            # nothing writes those bytes during the run
            packets[name] = [
                image[pkt[0][0] : pkt[0][0] + pkt[0][1]]
                if len(pkt) == 1
                else np.concatenate([image[o : o + n] for o, n in pkt])
                for pkt in plans
            ]
        out = eng.run(step.cmd, packets)
        for name, pkts in out.items():
            descs = plan.scatter.get(name, [])
            if len(descs) != len(pkts):
                raise DmaError(
                    f"stream '{name}': the engine sent {len(pkts)} packet(s), the S2MM transfer "
                    f"list has {len(descs)}"
                )
            for k, (data, (rows, total)) in enumerate(zip(pkts, descs)):
                if total != data.size:
                    raise DmaError(
                        f"stream '{name}' packet {k}: {data.size} bytes from the engine, "
                        f"{total} bytes of S2MM descriptors"
                    )
                pos = 0
                for o, n in rows:
                    image[o : o + n] = data[pos : pos + n]
                    pos += n
        return eng.counters

    def _plan(self, step: EngineStep, image_size: int) -> _TransferPlan:
        """The checked gather / scatter plan of a step's transfer lists.

        Cached by the exact rows (and the image size): a step run again is not re-checked,
        a changed transfer list is checked afresh.
        """
        key = (
            image_size,
            tuple(
                (name, np.asarray(rows, dtype=np.int64).tobytes())
                for name, rows in sorted(step.transfers.items())
            ),
        )
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        check_transfers(step, image_size, self.engine.cfg)
        gather: dict[str, list[list[tuple[int, int]]]] = {}
        for name in self.engine.input_streams:
            if name not in step.transfers:
                continue
            pk = step.packets(name)
            if pk and not pk[-1][-1].last:
                raise DmaError(f"stream '{name}': the last descriptor does not end a packet")
            gather[name] = [[(t.offset, t.length) for t in pkt] for pkt in pk]
        scatter: dict[str, list[tuple[list[tuple[int, int]], int]]] = {}
        for name in self.engine.output_streams:
            pk = step.packets(name) if name in step.transfers else []
            scatter[name] = [
                ([(t.offset, t.length) for t in pkt], sum(t.length for t in pkt)) for pkt in pk
            ]
        plan = _TransferPlan(gather, scatter)
        if len(self._plans) >= _PLAN_CACHE:
            self._plans.clear()
        self._plans[key] = plan
        return plan


class ModelRunner:
    """A compiled model on an emulated board (DDR image, engine, direct DMA feeder).

    Args:
        model: The compiled model.
        overlay: The overlay configuration (default: ``load_overlay(model.overlay)``); its
            configuration hash must be the model's.
        check_races: Check that tokens order every conflicting buffer access of two units
            (:mod:`edge_dnn.emulator.races`, the default); ``False`` gives the same results
            faster for command streams already known to be race-free.

    Attributes:
        stats: :class:`StepStats` of every engine step of the last run.
    """

    def __init__(
        self,
        model: CompiledModel,
        overlay: OverlayConfig | None = None,
        *,
        check_races: bool = True,
    ) -> None:
        cfg = overlay if overlay is not None else load_overlay(model.overlay)
        model.check_overlay(cfg)
        self.model = model
        self.cfg = cfg
        self.engine = Engine(cfg, check_races=check_races)
        self.feeder = DirectFeeder(self.engine)
        self.stats: list[StepStats] = []
        # the DDR image kept from frame to frame (see _image), what it was made from, and the
        # byte ranges the last frame may have written
        self._ddr: np.ndarray | None = None
        self._ddr_source: tuple[object, ...] = ()
        self._dirty: list[tuple[int, int]] = []

    # ------------------------------------------------------------------ inputs / outputs
    # ------------------------------------------------------------------ execution
    def run(
        self,
        feeds: Mapping[str, np.ndarray] | np.ndarray,
        raw: bool = False,
        debug: bool = False,
    ) -> dict[str, np.ndarray]:
        """Run the model on a batch (one emulated run per sample, results stacked on axis 0).

        Args:
            feeds: Input tensor name -> float array (N, C, H, W); a bare array for a
                single-input model.
            raw: Return integers (the tensors' storage dtypes; float32 for float blobs)
                instead of dequantized float32.
            debug: Also return every intermediate tensor the run materialises: every DDR
                tensor an engine step writes (read back right after that step: the step's
                outputs and the activation-buffer tenants whose lifetime starts there, such
                as concat producers), every ARM step's output and the quantized inputs.
                Tensors that only ever live in the on-chip buffers (layer chaining inside a
                run) are not observable here.

        Returns:
            Tensor name -> array (the network outputs; with ``debug``, all of the above).

        Raises:
            InputError: missing, unknown or mis-shaped inputs.
            EngineFault, DmaError, DdrHazardError: the emulated board failed.
        """
        xs = self.model.check_feeds(feeds)
        n = next(iter(xs.values())).shape[0] if xs else 1
        per_sample = [
            self._run_one({k: v[i : i + 1] for k, v in xs.items()}, debug) for i in range(n)
        ]
        keys = per_sample[0].keys()
        out: dict[str, np.ndarray] = {}
        for k in keys:
            parts = [r[k] for r in per_sample]
            a = parts[0] if n == 1 else np.concatenate(parts, axis=0)
            out[k] = a if raw else self.model.tensors[k].quant.to_float(a, where=f"tensor '{k}'")
        return out

    def _image(self) -> np.ndarray:
        """The DDR image of a new frame: byte for byte :meth:`MemoryPlan.image` (zeros, the
        weights region filled in).

        Like the runtime on the board, which loads the weights into DDR once, the runner keeps
        one image and, before each frame, restores only the ranges the previous frame may have
        written (its inputs, the S2MM descriptors of its engine steps and its ARM outputs,
        recorded before each write): the same image as a fresh one without rebuilding the
        megabytes of weights. A feeder other than :class:`DirectFeeder` (the C simulation
        replaces the whole image) gets a fresh image every frame.
        """
        mem = self.model.memory
        img = self._ddr
        if type(self.feeder) is not DirectFeeder:
            self._ddr = None
            return mem.image()
        src = self._ddr_source
        same = (
            len(src) == 4
            and src[0] is mem
            and src[1] is mem.weights
            and src[2] == mem.size
            and src[3] == mem.weights_offset
        )
        if img is None or not same:
            img = self._ddr = mem.image()
            self._ddr_source = (mem, mem.weights, mem.size, mem.weights_offset)
            self._dirty = []
            return img
        w0, w1 = mem.weights_offset, mem.weights_offset + mem.weights.size
        for a, b in _merged(self._dirty):
            img[a:b] = 0
            lo, hi = max(a, w0), min(b, w1)
            if lo < hi:
                img[lo:hi] = mem.weights[lo - w0 : hi - w0]
        self._dirty = []
        return img

    def _touch(self, offset: int, end: int) -> None:
        """Record that the frame writes DDR bytes ``[offset, end)``."""
        if end > offset:
            self._dirty.append((offset, end))

    def _touch_step(self, step: EngineStep) -> None:
        for s in self.cfg.streams:
            if s.role == "act_out" and s.name in step.transfers:
                rows = np.asarray(step.transfers[s.name], dtype=np.int64).reshape(-1, 3)
                for off, n in rows[:, :2].tolist():
                    self._touch(off, off + n)

    def _run_one(self, feeds: Mapping[str, np.ndarray], debug: bool) -> dict[str, np.ndarray]:
        m = self.model
        image = self._image()
        arm: dict[str, np.ndarray] = {}
        seen: dict[str, np.ndarray] = {}
        for name, x in feeds.items():
            info = m.tensors[name]
            q = info.quant.quantize(x, where=f"input '{name}'")
            arm[name] = q
            if info.layout is not None:
                self._touch(info.layout.offset, info.layout.end)
                info.write(image, q)
        # the step after which each DDR tensor holds its value (buffer tenants' first step;
        # concat producers are tenants of the concat's buffer)
        written_at: dict[int, list[str]] = {}
        for buf in m.memory.buffers:
            for name, first, _ in buf.tensors:
                written_at.setdefault(first, []).append(name)
        self.stats = []
        for idx, step in enumerate(m.steps):
            if isinstance(step, EngineStep):
                self._touch_step(step)
                counters = self.feeder.run(step, image)
                self.stats.append(StepStats(idx, tuple(step.layers), counters))
                if debug:
                    for t in dict.fromkeys([*step.outputs, *written_at.get(idx, [])]):
                        if m.tensors[t].layout is not None:
                            seen[t] = m.tensors[t].read(image)
            elif isinstance(step, ArmStep):
                for t in step.outputs:
                    lay = m.tensors[t].layout
                    if lay is not None:
                        self._touch(lay.offset, lay.end)
                step.execute(arm, image, m.tensors)
            else:  # pragma: no cover - the model format knows two step kinds
                raise DmaError(f"unknown step kind {type(step).__name__}")
        result: dict[str, np.ndarray] = {}
        if debug:
            result.update(seen)
            result.update(arm)
        for t in m.outputs:
            if t in arm:
                result[t] = arm[t]
            else:
                info = m.tensors[t]
                if info.layout is None:
                    raise DmaError(f"network output '{t}' is neither in ARM memory nor in DDR")
                result[t] = info.read(image)
        return result


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``ranges`` sorted, overlapping and adjacent ones merged."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def run_compiled(
    model: CompiledModel,
    feeds: Mapping[str, np.ndarray] | np.ndarray,
    raw: bool = False,
    debug: bool = False,
    overlay: OverlayConfig | None = None,
) -> dict[str, Any]:
    """Run a compiled model on the emulated board (see :meth:`ModelRunner.run`).

    Args:
        model: The compiled model.
        feeds: Input tensor name -> float array (N, C, H, W), or a bare array.
        raw: Return the integers instead of dequantized float32.
        debug: Also return every intermediate tensor materialised in DDR or ARM memory.
        overlay: The overlay configuration (default: the one the model names).

    Returns:
        Tensor name -> array.
    """
    return ModelRunner(model, overlay).run(feeds, raw=raw, debug=debug)
