"""The compiler driver: quantized graph + overlay -> :class:`.CompiledModel`.

Pipeline (``docs/compiler.md``):

1. :func:`~edge_dnn.compiler.partition.analyse`: placement of every layer, storage of every
   engine tensor (concat views), per-layer specs;
2. scheduling: a list schedule that runs every ready engine layer before switching to the
   ARM and back, which minimises the number of engine runs greedily;
3. runs: consecutive engine layers share one run while their inputs are either resident in
   the input buffer (looped back by a producer of the same run) or were written to DDR by an
   earlier step: a layer reading a tensor written to DDR in the current run starts a new run
   (``docs/engine.md`` section 2, no read-after-write in one run). Resident maps are allocated
   in the input buffer while they fit;
4. per run, when it closes: which outputs go to DDR (readers outside the run, ARM readers,
   network outputs) and which are looped back, then the instructions
   (:mod:`~edge_dnn.compiler.codegen`) and the encoded command stream;
5. the DDR memory plan (weights region, activation regions with liveness-based reuse), the
   resolved transfer lists, the tensor layouts and the compile report.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from edge_dnn.compiler.codegen import (
    WEIGHTS_KEY,
    Dst,
    Src,
    WeightsBlob,
    gen_conv,
    gen_eltwise,
    gen_norm,
    gen_pool,
)
from edge_dnn.compiler.emit import RunEmitter
from edge_dnn.compiler.errors import CompileError
from edge_dnn.compiler.model import (
    ActivationBuffer,
    ArmStep,
    CompiledModel,
    DdrRange,
    EngineStep,
    MemoryPlan,
    Step,
    TensorInfo,
    TensorLayout,
)
from edge_dnn.compiler.partition import Analysis, EngineOp, analyse, describe
from edge_dnn.compiler.tiling import (
    ConvPlan,
    ConvSpec,
    EltPlan,
    EltSpec,
    NormPlan,
    NormSpec,
    Plan,
    PlanContext,
    PoolPlan,
    PoolSpec,
    plan_layer,
)
from edge_dnn.graph import Node
from edge_dnn.isa.format import ISA_MAJOR, ISA_MINOR, encode_stream
from edge_dnn.isa.layout import block_bytes, check_overlay, element_bytes
from edge_dnn.overlay.config import OverlayConfig, load_overlay
from edge_dnn.quant.qgraph import QuantizedGraph

__all__ = ["compile_model"]

ALIGN = 64
"""Alignment of every DDR region, bytes."""


# ---------------------------------------------------------------------------- input buffer
class _Alloc:
    """First-fit allocator of input-buffer words."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used: dict[int, int] = {}

    def largest(self) -> int:
        best, pos = 0, 0
        for b, n in sorted(self.used.items()):
            best = max(best, b - pos)
            pos = max(pos, b + n)
        return max(best, self.size - pos)

    def alloc(self, n: int) -> int | None:
        if n <= 0:
            return 0
        pos = 0
        for b, m in sorted(self.used.items()):
            if b - pos >= n:
                break
            pos = max(pos, b + m)
        if pos + n > self.size:
            return None
        self.used[pos] = n
        return pos

    def free(self, base: int) -> None:
        self.used.pop(base, None)


# ---------------------------------------------------------------------------- run planning
@dataclasses.dataclass
class _Layer:
    op: EngineOp
    plan: Plan
    srcs: list[tuple[str, int, int | None]]  # (root, block offset, resident base or None)
    out_root: str
    out_off: int
    loop_base: int | None
    work_base: int


@dataclasses.dataclass
class _Run:
    layers: list[_Layer] = dataclasses.field(default_factory=list)
    resident: dict[str, int] = dataclasses.field(default_factory=dict)
    done_parts: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    produced: set[str] = dataclasses.field(default_factory=set)
    alloc: _Alloc | None = None


class _Compiler:
    def __init__(self, qg: QuantizedGraph, cfg: OverlayConfig) -> None:
        self.qg, self.cfg = qg, cfg
        self.an: Analysis = analyse(qg, cfg)
        an = self.an
        inp = cfg.buffer("input")
        self.in_words = inp.banks * inp.depth
        self.cb = block_bytes(cfg)
        # engine readers of every storage root
        self.readers: dict[str, list[str]] = {}
        for op in an.ops.values():
            for t in op.inputs:
                r, _ = an.root(t)
                self.readers.setdefault(r, []).append(op.name)
        self.planned: set[str] = set()
        self.steps: list[Step] = []
        self.blob = WeightsBlob()
        self.layer_step: dict[str, int] = {}
        self.layer_report: dict[str, dict[str, Any]] = {}
        # DDR regions: key -> writer / reader step indices
        self.writes: dict[str, set[int]] = {}
        self.reads: dict[str, set[int]] = {}
        self.ddr_roots: set[str] = set()
        self.run_streams: list[dict[str, list[Any]]] = []
        self.run_ranges: list[tuple[set[str], set[str]]] = []
        self.run_emitters: list[RunEmitter] = []
        self.arm_writes: list[tuple[int, str]] = []
        self.slot = 0

    # ------------------------------------------------------------------ schedule
    def schedule(self) -> list[tuple[str, Node]]:
        """Engine layers and ARM steps in execution order (engine-first list schedule)."""
        an = self.an
        g = self.qg.graph
        kind: dict[str, str] = {}
        for n in g.nodes:
            if n.name in an.ops:
                kind[n.name] = "engine"
            elif n.name in an.arm:
                kind[n.name] = "arm"
            else:
                kind[n.name] = "virtual"
        # a convolution with a fused eltwise also needs the eltwise's other operand
        nodes = {n.name: n for n in g.nodes}
        needs: dict[str, list[str]] = {n.name: list(n.inputs) for n in g.nodes}
        for e_name, c_name in an.fused.items():
            c_outs = set(nodes[c_name].outputs)
            needs[c_name] += [t for t in nodes[e_name].inputs if t not in c_outs]
        done: set[str] = set()
        ready_t: set[str] = set()

        def settle() -> None:
            changed = True
            while changed:
                changed = False
                for n in g.nodes:
                    if (
                        kind[n.name] == "virtual"
                        and n.name not in done
                        and all(t in ready_t for t in n.inputs)
                    ):
                        done.add(n.name)
                        ready_t.update(n.outputs)
                        changed = True

        settle()
        pending = [n for n in g.nodes if kind[n.name] != "virtual"]
        order: list[tuple[str, Node]] = []
        phase = "engine"
        stalls = 0
        while pending:
            progressed = False
            i = 0
            while i < len(pending):
                n = pending[i]
                if kind[n.name] == phase and all(t in ready_t for t in needs[n.name]):
                    order.append((phase, n))
                    pending.pop(i)
                    done.add(n.name)
                    ready_t.update(n.outputs)
                    settle()
                    progressed = True
                    i = 0
                    continue
                i += 1
            stalls = 0 if progressed else stalls + 1
            if stalls > 2:
                raise CompileError(f"internal: cannot schedule {[n.name for n in pending][:5]}")
            phase = "arm" if phase == "engine" else "engine"
        return order

    # ------------------------------------------------------------------ driver
    def run(self) -> None:
        cur = self._new_run()
        for kind, n in self.schedule():
            if kind == "arm":
                if cur.layers:
                    self._close(cur)
                    cur = self._new_run()
                self._arm_step(n)
                continue
            op = self.an.ops[n.name]
            if not self._try_plan(cur, op):
                if cur.layers:
                    self._close(cur)
                cur = self._new_run()
                if not self._try_plan(cur, op):
                    raise CompileError("internal: no tiling in an empty run", op.name)
        if cur.layers:
            self._close(cur)

    def _new_run(self) -> _Run:
        return _Run(alloc=_Alloc(self.in_words))

    def _complete_producers(self, root: str) -> list[str] | None:
        """Names of the engine layers writing ``root``, or None if any writer is not one."""
        names = []
        for leaf in self.an.leaves(root):
            w = self.an.writer(leaf)
            if w is None:
                return None
            names.append(w)
        return names

    def _try_plan(self, run: _Run, op: EngineOp) -> bool:
        an = self.an
        assert run.alloc is not None
        srcs: list[tuple[str, int, int | None]] = []
        for t in op.inputs:
            root, off = an.root(t)
            if root in run.resident:
                writers = self._complete_producers(root) or []
                if all(w in run.done_parts.get(root, set()) for w in writers):
                    h, w = an.chw(root)[1:]
                    srcs.append((root, off, run.resident[root] + off * h * w))
                    continue
                return False
            if root in run.produced:
                return False
            srcs.append((root, off, None))
        out_root, out_off = an.root(op.output)
        new_map: int | None = None
        loop_base: int | None = None
        if out_root in run.resident:
            h, w = an.chw(out_root)[1:]
            loop_base = run.resident[out_root] + out_off * h * w
        elif self.readers.get(out_root):
            out_writers = self._complete_producers(out_root)
            if out_writers is not None and not any(x in self.planned for x in out_writers):
                _, h, w = an.chw(out_root)
                words = an.blocks(out_root) * h * w
                new_map = run.alloc.alloc(words)
                if new_map is not None:
                    loop_base = new_map + out_off * h * w
        resident = tuple(s[2] is not None for s in srcs)
        plan = plan_layer(self.cfg, op.spec, PlanContext(run.alloc.largest(), resident))
        if isinstance(plan, str) and new_map is not None:
            run.alloc.free(new_map)
            new_map = loop_base = None
            plan = plan_layer(self.cfg, op.spec, PlanContext(run.alloc.largest(), resident))
        if isinstance(plan, str):
            return False
        work = run.alloc.alloc(plan.in_words)
        if work is None:
            if new_map is not None:
                run.alloc.free(new_map)
            return False
        if plan.in_words > 0:
            run.alloc.free(work)
        if new_map is not None:
            run.resident[out_root] = new_map
        run.layers.append(_Layer(op, plan, srcs, out_root, out_off, loop_base, work))
        run.produced.add(out_root)
        if loop_base is not None:
            run.done_parts.setdefault(out_root, set()).add(op.name)
        self.planned.add(op.name)
        # release resident maps every engine reader of which is planned
        for root, base in list(run.resident.items()):
            if all(r in self.planned for r in self.readers.get(root, [])):
                del run.resident[root]
                run.alloc.free(base)
        return True

    # ------------------------------------------------------------------ ARM steps
    def _arm_step(self, n: Node) -> None:
        an = self.an
        idx = len(self.steps)
        for t in n.inputs:
            root, _ = an.root(t)
            # an engine concat exists only as its buffer: ARM readers find it in DDR
            if self._engine_written(root) or root in an.parts:
                self.ddr_roots.add(root)
                self.reads.setdefault(root, set()).add(idx)
        for t in n.outputs:
            root, _ = an.root(t)
            self.arm_writes.append((idx, root))
            if self.readers.get(root) or root in an.parts:
                self.ddr_roots.add(root)
        self.steps.append(
            ArmStep(
                layer=n.layer,
                node=self.qg.nodes[n.name],
                inputs=tuple(n.inputs),
                outputs=tuple(n.outputs),
                reason=an.arm[n.name],
            )
        )
        self.layer_step[n.name] = idx

    def _engine_written(self, root: str) -> bool:
        return any(self.an.writer(leaf) is not None for leaf in self.an.leaves(root))

    # ------------------------------------------------------------------ closing a run
    def _close(self, run: _Run) -> None:
        an = self.an
        idx = len(self.steps)
        in_run = {lay.op.name for lay in run.layers}
        outs = set(self.qg.graph.outputs)
        needs_ddr: dict[str, bool] = {}
        for root in run.produced:
            views = self._views(root)
            arm_readers = any(c.name in an.arm for v in views for c in an.consumers.get(v, []))
            later = any(r not in in_run for r in self.readers.get(root, []))
            needs_ddr[root] = arm_readers or later or bool(views & outs) or (root in self.ddr_roots)
        em = RunEmitter(self.cfg)
        for lay in run.layers:
            op = lay.op
            readers_here = [r for r in self.readers.get(lay.out_root, []) if r in in_run]
            loop = lay.loop_base if readers_here else None
            ddr = needs_ddr.get(lay.out_root, False)
            if ddr:
                self.ddr_roots.add(lay.out_root)
                self.writes.setdefault(lay.out_root, set()).add(idx)
            dst = Dst(
                loop,
                lay.out_root if ddr else None,
                lay.out_off * self._block_area(lay.out_root) * self.cb,
            )
            srcs = []
            for root, off, base in lay.srcs:
                if base is None:
                    self.ddr_roots.add(root)
                    self.reads.setdefault(root, set()).add(idx)
                srcs.append(
                    Src(base is not None, base or 0, root, off * self._block_area(root) * self.cb)
                )
            self._gen(em, lay, srcs, dst)
            self.layer_step[op.name] = idx
            if op.fused is not None:
                self.layer_step[op.fused] = idx
        self.run_emitters.append(em)
        self.steps.append(
            EngineStep(
                layers=tuple(lay.op.name for lay in run.layers),
                cmd=encode_stream(em.instructions(), self.cfg.config_hash),
                transfers={},
            )
        )

    def _views(self, root: str) -> set[str]:
        out = {root}
        for p in self.an.parts.get(root, []):
            out |= self._views(p)
        return out

    def _block_area(self, root: str) -> int:
        _, h, w = self.an.chw(root)
        return h * w

    def _gen(self, em: RunEmitter, lay: _Layer, srcs: list[Src], dst: Dst) -> None:
        op, plan, spec = lay.op, lay.plan, lay.op.spec
        tag = op.index
        before = dict(em.stream_bytes)
        n0 = len(em)
        self.slot ^= 1
        if isinstance(spec, ConvSpec):
            assert isinstance(plan, ConvPlan)
            gen_conv(
                em, self.cfg, spec, plan, srcs[0], dst, lay.work_base, self.blob, tag, op.name,
                self.slot, srcs[1] if op.fused is not None else None,
            )  # fmt: skip
        elif isinstance(spec, PoolSpec):
            assert isinstance(plan, PoolPlan)
            gen_pool(
                em, self.cfg, spec, plan, srcs[0], dst, lay.work_base, self.blob, tag, op.name,
                self.slot,
            )  # fmt: skip
        elif isinstance(spec, NormSpec):
            assert isinstance(plan, NormPlan)
            gen_norm(
                em, self.cfg, spec, plan, srcs[0], dst, lay.work_base, self.blob, tag, op.name,
                self.slot,
            )  # fmt: skip
        else:
            assert isinstance(spec, EltSpec) and isinstance(plan, EltPlan)
            gen_eltwise(em, self.cfg, spec, plan, (srcs[0], srcs[1]), dst, lay.work_base, tag)
        streams = {k: v - before[k] for k, v in em.stream_bytes.items() if v - before[k]}
        self.layer_report[op.name] = {
            "tiling": _plan_dict(plan),
            "instructions": len(em) - n0,
            "stream_bytes": streams,
            "input": ["on-chip" if s.resident else "ddr" for s in srcs],
            "output": [
                x
                for x, on in (("ddr", dst.key is not None), ("loopback", dst.loop_base is not None))
                if on
            ],
        }
        if op.fused is not None:
            self.layer_report[op.name]["fused_eltwise"] = op.fused

    # ------------------------------------------------------------------ DDR plan
    def memory(self) -> tuple[MemoryPlan, dict[str, int]]:
        n_steps = len(self.steps)
        outs = set(self.qg.graph.outputs)
        net_in = set(self.qg.graph.inputs)
        weights = self.blob.bytes()
        for idx, root in self.arm_writes:
            if root in self.ddr_roots:
                self.writes.setdefault(root, set()).add(idx)
        w_size = -(-weights.size // ALIGN) * ALIGN
        regions: list[tuple[str, int, int, int]] = []
        for root in sorted(self.ddr_roots, key=lambda r: self.qg.graph.tensors.index(r)):
            views = self._views(root)
            first = min(
                self.writes.get(root, set()) | ({-1} if views & net_in else set()), default=-1
            )
            last = max(
                self.reads.get(root, set()) | ({n_steps} if views & outs else set()), default=first
            )
            size = self.an.blocks(root) * self._block_area(root) * self.cb
            regions.append((root, -(-size // ALIGN) * ALIGN, first, last))
        placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
        offsets: dict[str, int] = {}
        for root, size, first, last in sorted(regions, key=lambda r: (-r[1], r[2])):
            live = sorted((o, s) for o, s, f, la in placed if not (la < first or last < f))
            pos = w_size
            for o, s in live:
                if o - pos >= size:
                    break
                pos = max(pos, o + s)
            placed.append((pos, size, first, last))
            offsets[root] = pos
        total = max([w_size] + [o + s for o, s, _, _ in placed])
        buffers = []
        for root, size, first, last in regions:
            tenants = tuple((v, first, last) for v in sorted(self._views(root)))
            buffers.append(ActivationBuffer(offsets[root], size, tenants))
        buffers.sort(key=lambda b: b.offset)
        return MemoryPlan(total, 0, weights, tuple(buffers), ALIGN), offsets

    def finish(self, preprocess: dict[str, Any] | None, t0: float) -> CompiledModel:
        mem, offsets = self.memory()
        offsets[WEIGHTS_KEY] = mem.weights_offset
        an = self.an
        # transfers and DDR ranges of every run
        engine_steps = [s for s in self.steps if isinstance(s, EngineStep)]
        for step, em in zip(engine_steps, self.run_emitters):
            tr: dict[str, np.ndarray] = {}
            rd: list[tuple[int, int]] = []
            wr: list[tuple[int, int]] = []
            ins: set[str] = set()
            outs: set[str] = set()
            for name, descs in em.streams.items():
                rows = np.array(
                    [(offsets[d.key] + d.offset, d.length, int(d.last)) for d in descs],
                    dtype=np.int64,
                ).reshape(-1, 3)
                tr[name] = rows
                out_stream = self.cfg.stream(name).role == "act_out"
                for d in descs:
                    (wr if out_stream else rd).append((offsets[d.key] + d.offset, d.length))
                    if d.key != WEIGHTS_KEY:
                        (outs if out_stream else ins).add(d.key)
            step.transfers = tr
            step.reads = _merge_ranges(rd)
            step.writes = _merge_ranges(wr)
            step.inputs = tuple(sorted(ins))
            step.outputs = tuple(sorted(outs))
            _check_hazards(step, wr)
        # tensors
        tensors: dict[str, TensorInfo] = {}
        shapes = an.shapes
        for t in self.qg.graph.tensors:
            root, off = an.root(t)
            layout = None
            if root in offsets and root != WEIGHTS_KEY:
                tq = self.qg.tensors[t]
                _, h, w = an.chw(t)
                cbc = an.cbc(t)
                layout = TensorLayout(
                    offsets[root] + off * h * w * self.cb,
                    h,
                    w,
                    cbc,
                    element_bytes(_isa_prec(tq.dtype)),
                    tuple(int(c) for c in an.channel_map(t)),
                )
            tensors[t] = TensorInfo(t, tuple(shapes[t]), self.qg.tensors[t], layout)
        report = self.report(mem, time.perf_counter() - t0)
        return CompiledModel(
            name=self.qg.name,
            overlay=self.cfg.name,
            config_hash=self.cfg.config_hash,
            overlay_version=self.cfg.version,
            isa_version=(ISA_MAJOR, ISA_MINOR),
            precision=self.qg.precision,
            method=self.qg.method,
            tensors=tensors,
            inputs=tuple(self.qg.graph.inputs),
            outputs=tuple(self.qg.graph.outputs),
            steps=self.steps,
            memory=mem,
            preprocess=preprocess,
            report=report,
            reference=self.qg,
        )

    # ------------------------------------------------------------------ report
    def report(self, mem: MemoryPlan, seconds: float) -> dict[str, Any]:
        an = self.an
        place = describe(an)
        layers = []
        for n in self.qg.graph.nodes:
            row: dict[str, Any] = {
                "name": n.name,
                "type": n.type,
                "placement": place[n.name],
                "precision": self.qg.nodes[n.name].precision,
                "step": self.layer_step.get(n.name),
            }
            if n.name in an.arm:
                row["reason"] = an.arm[n.name]
            if n.name in an.absorbed:
                row["reason"] = an.absorbed[n.name]
            if n.name in an.concats:
                row["reason"] = "addressing: inputs write into its buffer"
            if n.name in an.fused:
                conv = an.fused[n.name]
                row["fused_into"] = conv
                row["reason"] = (
                    f"fused into {an.ops[conv].node.type} '{conv}' (COMPUTE_TILE fuse_eltwise; "
                    f"the output of '{conv}' is not materialised)"
                )
            row.update(self.layer_report.get(n.name, {}))
            layers.append(row)
        totals: dict[str, int] = {}
        for r in self.layer_report.values():
            for k, v in r["stream_bytes"].items():
                totals[k] = totals.get(k, 0) + v
        return {
            "network": self.qg.name,
            "overlay": self.cfg.name,
            "config_hash": self.cfg.config_hash,
            "engine_runs": sum(isinstance(s, EngineStep) for s in self.steps),
            "arm_steps": sum(isinstance(s, ArmStep) for s in self.steps),
            "engine_layers": len(an.ops),
            "fused_eltwise": dict(an.fused),
            "ddr_bytes": mem.size,
            "weights_bytes": int(mem.weights.size),
            "stream_bytes": totals,
            "command_words": int(sum(s.cmd.size for s in self.steps if isinstance(s, EngineStep))),
            "compile_seconds": round(seconds, 3),
            "layers": layers,
        }


def _isa_prec(dtype: str) -> Any:
    from edge_dnn.isa.format import Precision

    return Precision.INT16 if dtype == "int16" else Precision.INT8


def _plan_dict(plan: Plan) -> dict[str, Any]:
    d = dataclasses.asdict(plan)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _merge_ranges(rs: list[tuple[int, int]]) -> tuple[DdrRange, ...]:
    out: list[list[int]] = []
    for o, n in sorted(rs):
        if out and o <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], o + n - out[-1][0])
        else:
            out.append([o, n])
    return tuple(DdrRange(o, n) for o, n in out)


def _check_hazards(step: EngineStep, writes: list[tuple[int, int]]) -> None:
    """engine.md section 2: reads and writes of one run disjoint, nothing written twice."""
    ws = sorted(writes)
    for (a, n), (b, _) in itertools.pairwise(ws):
        if b < a + n:
            raise CompileError(f"internal: DDR range at {b} written twice in one engine run")
    for r in step.reads:
        for w in step.writes:
            if r.offset < w.end and w.offset < r.end:
                raise CompileError(
                    f"internal: engine run reads DDR [{r.offset}, {r.end}) and writes "
                    f"[{w.offset}, {w.end})"
                )


# ---------------------------------------------------------------------------- entry point
def compile_model(
    qgraph: QuantizedGraph,
    overlay: OverlayConfig | str,
    preprocess: Any = None,
) -> CompiledModel:
    """Compile a quantized network for an overlay.

    Args:
        qgraph: The quantized network (batch 1 is compiled whatever its declared batch).
        overlay: An ``OverlayConfig`` or an overlay name / path for ``load_overlay``.
        preprocess: Input preprocessing (``Preprocess`` or its ``to_dict()``), recorded in the
            model for the runtime.

    Returns:
        The compiled model.

    Raises:
        CompileError: the network cannot be compiled (names the layer).
        OverlayConfigError: the overlay cannot be driven by ISA v1.
    """
    t0 = time.perf_counter()
    cfg = overlay if isinstance(overlay, OverlayConfig) else load_overlay(overlay)
    check_overlay(cfg)
    pre: dict[str, Any] | None
    if preprocess is None or isinstance(preprocess, Mapping):
        pre = None if preprocess is None else dict(preprocess)
    else:
        pre = preprocess.to_dict()
    c = _Compiler(qgraph, cfg)
    c.run()
    return c.finish(pre, t0)
