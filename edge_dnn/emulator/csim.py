"""Engine steps executed by the HLS engine's C simulation (g++ build of the HLS C++ source).

The HLS source of the engine (``overlays/_common/hls``) compiles with a plain C++17 compiler
into a harness that runs one engine step: command stream, DDR image and the step's transfer
lists in, new DDR image out (exchange format: ``overlays/_common/hls/README.md``). This module
builds that harness for an overlay (:func:`build_csim`), runs single steps
(:func:`run_step_csim`) and whole compiled models (:func:`run_compiled_csim`, the
:class:`~edge_dnn.emulator.run.ModelRunner` flow with engine steps in C simulation and ARM
steps in Python), and port-level runs like ``Engine.run`` (:func:`run_engine_csim`). The
on-chip buffers can be carried from run to run (:class:`CsimState`), as they persist in the
emulator and the hardware. With ``compare=True`` every engine step also runs on the Python
emulator and the DDR images and buffers must be identical (:class:`CsimMismatchError`
otherwise): the HLS source is bit-exact with the emulator, hence with the integer reference.

Only numpy and the standard library are used; the harness needs ``g++`` (or ``$CXX``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_dnn.compiler.model import CompiledModel, EngineStep
from edge_dnn.emulator.engine import Engine, EngineCounters
from edge_dnn.emulator.errors import DmaError, EmulatorError, EngineFault
from edge_dnn.emulator.ports import as_bytes
from edge_dnn.emulator.run import DirectFeeder, ModelRunner, check_transfers
from edge_dnn.isa.errors import ErrorCode
from edge_dnn.isa.format import HEADER_WORDS, INSTR_WORDS, Opcode, config_hash_words
from edge_dnn.overlay.config import (
    OverlayConfig,
    find_overlay,
    load_overlay,
    overlay_search_path,
    repo_overlays_dir,
)

__all__ = [
    "CXX_FLAGS",
    "CsimBuildError",
    "CsimFeeder",
    "CsimMismatchError",
    "CsimRunner",
    "CsimState",
    "build_csim",
    "csim_available",
    "hls_source_dir",
    "run_compiled_csim",
    "run_engine_csim",
    "run_step_csim",
]

CXX_FLAGS = ("-O2", "-std=c++17", "-Wno-unknown-pragmas")
"""Compiler flags of the harness (HLS pragmas are unknown to g++)."""

STEP_MAGIC = 0x53434445
"""First word of a step file: the bytes ``E D C S``."""
RESULT_MAGIC = 0x52434445
"""First word of a result file: the bytes ``E D C R``."""
FORMAT_VERSION = 1
FLAG_STATE = 1
"""Step-file flag: the buffers' contents travel in (step file) and out (result)."""
FLAG_PACKETS = 2
"""Step-file flag: the result returns the act_out packets instead of scattering them."""

_ROLE_CODES = {"cmd": 0, "weights": 1, "act_in": 2, "act_out": 3}
"""``EDNN_ROLE_*`` of the generated configuration header."""
_NO_INDEX = 0xFFFFFFFF
_STATUS_DONE = 0x4
_STATUS_ERROR = 0x8
_SOURCES = ("edge_dnn_hls.h", "edge_dnn_engine.cpp", "csim/main.cpp")


class CsimBuildError(EmulatorError):
    """The C-simulation harness cannot be built or run (no compiler, compile error, a binary
    built for another overlay, a harness crash)."""


class CsimMismatchError(EmulatorError):
    """The C simulation and the Python emulator left different DDR images after a step.

    Attributes:
        step: Index of the engine step in :attr:`CompiledModel.steps`.
        offset: First differing byte of the image.
        count: Number of differing bytes.
        tensor: DDR tensor holding the first differing byte, or ``None``.
    """

    def __init__(
        self, step: int, offset: int, count: int, tensor: str | None, what: str = "DDR image"
    ) -> None:
        self.step = step
        self.offset = offset
        self.count = count
        self.tensor = tensor
        self.what = what
        where = f" (tensor '{tensor}')" if tensor else ""
        super().__init__(
            f"engine step {step}: the C simulation's {what} differs from the emulator's in "
            f"{count} byte(s), first at byte offset 0x{offset:X}{where}"
        )


@dataclasses.dataclass
class CsimState:
    """The engine's on-chip buffers between runs (they persist across START, like
    :class:`~edge_dnn.emulator.engine.Engine`'s arrays and the hardware's memories).

    Attributes:
        input, output: ``uint8[banks * depth, CB]`` (word-addressed).
        weight: ``uint8[depth, OC * IC]``; params: ``uint8[depth, OC * 8]``.
    """

    input: npt.NDArray[np.uint8]
    output: npt.NDArray[np.uint8]
    weight: npt.NDArray[np.uint8]
    params: npt.NDArray[np.uint8]

    NAMES = ("input", "output", "weight", "params")

    @classmethod
    def zeros(cls, cfg: OverlayConfig) -> CsimState:
        """Cleared buffers of overlay ``cfg`` (what a fresh :class:`Engine` holds)."""
        shapes = []
        for name in cls.NAMES:
            b = cfg.buffer(name)
            words = b.banks * b.depth if name in ("input", "output") else b.depth
            per = b.width_bits // 8 if name in ("input", "output") else b.banks * b.width_bits // 8
            shapes.append(np.zeros((words, per), dtype=np.uint8))
        return cls(*shapes)

    @classmethod
    def of_engine(cls, engine: Engine) -> CsimState:
        """A copy of an emulated engine's buffers."""
        return cls(*(getattr(engine, n).copy() for n in cls.NAMES))

    def arrays(self) -> list[npt.NDArray[np.uint8]]:
        """The four buffers in exchange-file order."""
        return [getattr(self, n) for n in self.NAMES]


# ---------------------------------------------------------------------------- building
def hls_source_dir() -> Path:
    """``overlays/_common/hls`` (the HLS engine source and its C-simulation harness).

    Raises:
        CsimBuildError: not found on the overlay search path.
    """
    for d in [*overlay_search_path(), repo_overlays_dir()]:
        p = d / "_common" / "hls"
        if (p / "csim" / "main.cpp").is_file():
            return p
    raise CsimBuildError(
        "the HLS engine source (overlays/_common/hls) is not on the overlay search path"
    )


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "g++"))


def csim_available() -> bool:
    """Whether a C++ compiler for the harness (``$CXX`` or ``g++``) is on ``PATH``."""
    return _compiler() is not None


def build_csim(overlay: str, outdir: str | os.PathLike[str]) -> Path:
    """Compile the C-simulation harness for one overlay, cached by source hash.

    The binary is ``outdir/edge_dnn_csim_<overlay>_<hash>``; ``hash`` covers the overlay's
    generated configuration header, the ISA header, the HLS sources and the flags, so an
    existing binary is reused exactly when it would be rebuilt identically.

    Args:
        overlay: Overlay name (``zcu104``).
        outdir: Folder for the binary (created if needed).

    Returns:
        Path of the executable.

    Raises:
        CsimBuildError: no compiler, missing sources or a compile error (compiler output
            included).
    """
    cxx = _compiler()
    if cxx is None:
        raise CsimBuildError(
            f"no C++ compiler: '{os.environ.get('CXX', 'g++')}' is not on PATH (set $CXX)"
        )
    src = hls_source_dir()
    gen = find_overlay(overlay).parent / "generated"
    common = src.parent / "generated"
    files = [
        gen / "edge_dnn_config.h",
        common / "edge_dnn_isa.h",
        *(src / s for s in _SOURCES),
    ]
    h = hashlib.sha256(" ".join(CXX_FLAGS).encode())
    for f in files:
        if not f.is_file():
            raise CsimBuildError(f"{f}: missing (needed to build the C simulation of '{overlay}')")
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    out_dir = Path(outdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / f"edge_dnn_csim_{overlay}_{h.hexdigest()[:16]}"
    if exe.is_file():
        return exe
    with _build_lock(out_dir / f".{exe.name}.lock"):
        if not exe.is_file():  # another process may have built it meanwhile
            _compile(cxx, overlay, src, gen, common, exe)
    return exe


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Serialise concurrent builds of one binary (pytest-xdist workers); no-op without fcntl."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _compile(cxx: str, overlay: str, src: Path, gen: Path, common: Path, exe: Path) -> None:
    out_dir = exe.parent
    fd, tmp_name = tempfile.mkstemp(prefix=exe.name + ".", dir=out_dir)
    os.close(fd)
    cmd = [
        cxx,
        *CXX_FLAGS,
        f"-I{gen}",
        f"-I{common}",
        f"-I{src}",
        str(src / "csim" / "main.cpp"),
        str(src / "edge_dnn_engine.cpp"),
        "-o",
        tmp_name,
    ]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            tail = "\n".join(res.stderr.strip().splitlines()[-40:])
            raise CsimBuildError(
                f"compiling the C simulation of '{overlay}' failed ({' '.join(cmd)}):\n{tail}"
            )
        os.chmod(tmp_name, 0o755)
        os.replace(tmp_name, exe)  # atomic: concurrent builders agree on the result
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


_CHECKED: dict[tuple[str, str], None] = {}


def _check_binary(binary: Path, cfg: OverlayConfig) -> None:
    """The binary must have been built for ``cfg`` (its ``--info`` hash words)."""
    key = (str(binary), cfg.config_hash)
    if key in _CHECKED:
        return
    try:
        res = subprocess.run(
            [str(binary), "--info"], capture_output=True, text=True, check=False, timeout=60
        )
    except OSError as e:
        raise CsimBuildError(f"{binary}: cannot run the C simulation ({e})") from None
    info = dict(
        line.split("=", 1) for line in res.stdout.splitlines() if "=" in line
    )  # overlay=..., config_hash0=0x...
    try:
        mine = (int(info["config_hash0"], 16), int(info["config_hash1"], 16))
    except (KeyError, ValueError):
        raise CsimBuildError(f"{binary}: not an edge-dnn C-simulation harness") from None
    if mine != config_hash_words(cfg.config_hash):
        raise CsimBuildError(
            f"{binary} was built for overlay '{info.get('overlay')}', not for '{cfg.name}' "
            "(configuration hash differs)"
        )
    _CHECKED[key] = None


# ---------------------------------------------------------------------------- one step
def _u32(*values: int) -> bytes:
    return np.array(values, dtype="<u4").tobytes()


def _u64(value: int) -> bytes:
    return np.array([value], dtype="<u8").tobytes()


def _step_file(
    cmd_words: np.ndarray,
    image: npt.NDArray[np.uint8],
    transfers: Mapping[str, np.ndarray],
    cfg: OverlayConfig,
    flags: int,
    state: CsimState | None,
) -> bytes:
    cmd = np.ascontiguousarray(cmd_words, dtype="<u4").reshape(-1)
    parts = [_u32(STEP_MAGIC, FORMAT_VERSION, flags, cmd.size), cmd.tobytes()]
    parts.append(_u64(image.size))
    parts.append(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    lists: list[bytes] = []
    index: dict[str, int] = {}
    for s in cfg.streams:
        k = index.get(s.role, 0)
        index[s.role] = k + 1
        if s.role == "cmd" or s.name not in transfers:
            continue
        rows = np.asarray(transfers[s.name], dtype="<i8").reshape(-1, 3)
        lists.append(_u32(_ROLE_CODES[s.role], k, rows.shape[0]) + rows.tobytes())
    parts.append(_u32(len(lists)))
    parts.extend(lists)
    if state is not None:
        for a in state.arrays():
            parts.append(_u64(a.size))
            parts.append(np.ascontiguousarray(a).tobytes())
    return b"".join(parts)


def _fault(cmd_words: np.ndarray, code: int, index: int, reason: str) -> EngineFault:
    """The :class:`EngineFault` the emulator would raise, named from the command stream."""
    opcode: str | None = None
    tag: int | None = None
    idx: int | None = None if index == _NO_INDEX else index
    cmd = np.asarray(cmd_words, dtype=np.uint32).reshape(-1)
    if idx is not None:
        base = HEADER_WORDS + INSTR_WORDS * idx
        if base + INSTR_WORDS <= cmd.size:
            op = int(cmd[base]) & 0xFF
            opcode = Opcode(op).name if op in Opcode._value2member_map_ else None
            tag = int(cmd[base + 7]) & 0xFFFF
    else:
        opcode = "HEADER"
    try:
        ec = ErrorCode(code)
    except ValueError:
        ec = ErrorCode.NONE
    return EngineFault(
        f"{reason or 'fault'} (HLS C simulation)",
        code=ec,
        instruction_index=idx,
        opcode=opcode,
        tag=tag,
    )


@dataclasses.dataclass
class _Result:
    image: npt.NDArray[np.uint8]
    packets: list[list[npt.NDArray[np.uint8]]]
    commands: int


def _invoke(
    exe: Path,
    cfg: OverlayConfig,
    cmd_words: np.ndarray,
    image: npt.NDArray[np.uint8],
    transfers: Mapping[str, np.ndarray],
    flags: int,
    state: CsimState | None,
) -> _Result:
    """Run the harness once; raise what the emulator would raise; update ``state``."""
    _check_binary(exe, cfg)
    with tempfile.TemporaryDirectory(prefix="edge_dnn_csim_") as tmp:
        step_path = Path(tmp) / "step.bin"
        result_path = Path(tmp) / "result.bin"
        step_path.write_bytes(_step_file(cmd_words, image, transfers, cfg, flags, state))
        res = subprocess.run(
            [str(exe), str(step_path), str(result_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0 or not result_path.is_file():
            raise CsimBuildError(
                f"the C simulation {exe.name} failed (exit {res.returncode}): "
                f"{res.stderr.strip()[-2000:]}"
            )
        data = result_path.read_bytes()
    head = np.frombuffer(data[:28], dtype="<u4")
    if head.size != 7 or int(head[0]) != RESULT_MAGIC or int(head[1]) != FORMAT_VERSION:
        raise CsimBuildError(f"the C simulation {exe.name} wrote an unreadable result file")
    status, index, dma_error, commands, n_reason = (int(v) for v in head[2:])
    reason = data[28 : 28 + n_reason].decode("utf-8", "replace")
    pos = 28 + n_reason

    def u32() -> int:
        nonlocal pos
        pos += 4
        return int(np.frombuffer(data, dtype="<u4", count=1, offset=pos - 4)[0])

    def blob() -> npt.NDArray[np.uint8]:
        nonlocal pos
        n = int(np.frombuffer(data, dtype="<u8", count=1, offset=pos)[0])
        pos += 8 + n
        return np.frombuffer(data, dtype=np.uint8, count=n, offset=pos - n).copy()

    if status & _STATUS_ERROR:
        raise _fault(cmd_words, (status >> 8) & 0xFF, index, reason)
    if dma_error:
        raise DmaError(f"{reason} (HLS C simulation)")
    new_image = blob()
    if not status & _STATUS_DONE or new_image.size != image.size:
        raise CsimBuildError(
            f"the C simulation {exe.name} ended with STATUS 0x{status:X} and a "
            f"{new_image.size}-byte image (expected DONE and {image.size} bytes)"
        )
    packets: list[list[npt.NDArray[np.uint8]]] = []
    if flags & FLAG_PACKETS:
        for _ in range(u32()):
            packets.append([blob() for _ in range(u32())])
    if state is not None:
        for name, old in zip(CsimState.NAMES, state.arrays()):
            setattr(state, name, blob().reshape(old.shape))
    return _Result(new_image, packets, commands)


def run_step_csim(
    binary: str | os.PathLike[str],
    step: EngineStep,
    image: npt.NDArray[np.uint8],
    cfg: OverlayConfig,
    state: CsimState | None = None,
) -> npt.NDArray[np.uint8]:
    """Run one engine step in the C simulation.

    Args:
        binary: The harness built by :func:`build_csim` for ``cfg``.
        step: The engine step (command stream and transfer lists).
        image: The DDR image before the step, ``uint8[size]`` (not modified).
        cfg: The overlay configuration the model was compiled for.
        state: The engine's buffers before the step, updated to their contents after it
            (``None``: the run starts from cleared buffers).

    Returns:
        The DDR image after the step (a new ``uint8`` array).

    Raises:
        EngineFault: the engine stopped with ``STATUS.ERROR`` (code, instruction, opcode, tag).
        DmaError, DdrHazardError: inconsistent transfer lists (checked as the emulator's
            direct feeder checks them), or output packets that do not match the S2MM lists.
        CsimBuildError: the binary is for another overlay, or the harness failed.
    """
    img = np.ascontiguousarray(image, dtype=np.uint8).reshape(-1)
    check_transfers(step, img.size, cfg)
    for s in cfg.streams:
        if s.role in ("weights", "act_in") and s.name in step.transfers:
            rows = step.transfer_list(s.name)
            if rows and not rows[-1].last:
                raise DmaError(f"stream '{s.name}': the last descriptor does not end a packet")
    flags = FLAG_STATE if state is not None else 0
    return _invoke(Path(binary), cfg, step.cmd, img, step.transfers, flags, state).image


def run_engine_csim(
    binary: str | os.PathLike[str],
    cfg: OverlayConfig,
    cmd: npt.ArrayLike,
    streams: Mapping[str, Sequence[object]] | None = None,
    state: CsimState | None = None,
) -> dict[str, list[npt.NDArray[np.uint8]]]:
    """Port-level run in the C simulation, like :meth:`Engine.run <edge_dnn.emulator.engine.
    Engine.run>`: every MM2S packet given up front, every act_out packet returned.

    Args:
        binary: The harness built for ``cfg``.
        cfg: The overlay configuration.
        cmd: The command stream (``uint32`` words).
        streams: Stream name (or role, when the role has a single stream) -> packets in order
            (bytes-like or numpy arrays; TLAST on the last byte of each).
        state: The buffers before the run, updated after it (``None``: cleared buffers).

    Returns:
        Every act_out stream name -> its packets (``uint8`` arrays), in order.

    Raises:
        EngineFault: the engine stopped with ``STATUS.ERROR``.
        KeyError: an unknown stream name.
        CsimBuildError: the harness failed.
    """
    names = {s.name: s for s in cfg.streams if s.role in ("weights", "act_in")}
    by_role: dict[str, list[str]] = {}
    for s in cfg.streams:
        by_role.setdefault(s.role, []).append(s.name)
    chunks: list[npt.NDArray[np.uint8]] = []
    transfers: dict[str, list[tuple[int, int, int]]] = {}
    pos = 0
    for key, packets in (streams or {}).items():
        name = key
        if name not in names:
            role = by_role.get(key, [])
            if len(role) != 1 or role[0] not in names:
                raise KeyError(
                    f"'{key}' is neither an input stream nor a single-stream role of overlay "
                    f"'{cfg.name}' (input streams: {', '.join(names)})"
                )
            name = role[0]
        for pkt in packets:
            b = as_bytes(pkt)
            if b.size == 0:
                continue
            chunks.append(b)
            transfers.setdefault(name, []).append((pos, int(b.size), 1))
            pos += int(b.size)
    image = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
    rows = {k: np.array(v, dtype=np.int64).reshape(-1, 3) for k, v in transfers.items()}
    flags = FLAG_PACKETS | (FLAG_STATE if state is not None else 0)
    cmd_words = np.asarray(cmd, dtype=np.uint32)
    res = _invoke(Path(binary), cfg, cmd_words, image, rows, flags, state)
    outs = by_role.get("act_out", [])
    return {n: res.packets[k] if k < len(res.packets) else [] for k, n in enumerate(outs)}


# ---------------------------------------------------------------------------- whole models
def _tensor_at(model: CompiledModel, offset: int) -> str | None:
    for name, info in model.tensors.items():
        lay = info.layout
        if lay is not None and lay.offset <= offset < lay.end:
            return name
    return None


class CsimFeeder(DirectFeeder):
    """A :class:`DirectFeeder` whose engine steps run in the C simulation.

    The engine's buffers persist from step to step (:class:`CsimState`), as in the emulator.

    Args:
        engine: The runner's emulated engine (used only with ``compare``).
        model: The compiled model (to name steps and tensors in errors).
        binary: The harness built for the model's overlay.
        compare: Also run every step on the Python emulator (on a copy of the image) and
            raise :class:`CsimMismatchError` unless the two images are identical.

    Attributes:
        compared: Indices of the engine steps compared so far (DDR image and all four buffers
            identical).
        state: The C simulation's buffers after the last step.
    """

    def __init__(
        self, engine: Engine, model: CompiledModel, binary: Path, compare: bool = False
    ) -> None:
        super().__init__(engine)
        self.model = model
        self.binary = binary
        self.compare = compare
        self.compared: list[int] = []
        self.state = CsimState.zeros(engine.cfg)

    def run(self, step: EngineStep, image: np.ndarray) -> EngineCounters:
        """Execute one engine step against the DDR image (modified in place).

        Returns:
            The emulator's counters with ``compare``; otherwise counters holding only the
            completed-instruction count of the command stream.

        Raises:
            EngineFault, DmaError, CsimBuildError: see :func:`run_step_csim`.
            CsimMismatchError: with ``compare``, the images differ.
        """
        index = next(k for k, s in enumerate(self.model.steps) if s is step)
        new = run_step_csim(self.binary, step, image, self.engine.cfg, self.state)
        if self.compare:
            ref = image.copy()
            counters = super().run(step, ref)
            diff = np.flatnonzero(ref != new)
            if diff.size:
                first = int(diff[0])
                raise CsimMismatchError(index, first, int(diff.size), _tensor_at(self.model, first))
            for name, mine in zip(CsimState.NAMES, self.state.arrays()):
                d = np.flatnonzero(getattr(self.engine, name).reshape(-1) != mine.reshape(-1))
                if d.size:
                    raise CsimMismatchError(index, int(d[0]), int(d.size), None, f"{name} buffer")
            self.compared.append(index)
        else:
            n = (np.asarray(step.cmd).size - HEADER_WORDS) // INSTR_WORDS
            counters = EngineCounters(instructions=int(n))
        image[:] = new
        return counters


class CsimRunner(ModelRunner):
    """A :class:`ModelRunner` whose engine steps run in the HLS C simulation.

    Args:
        model: The compiled model.
        binary: The harness built by :func:`build_csim` for the model's overlay.
        overlay: The overlay configuration (default: the one the model names).
        compare: Check every engine step against the Python emulator (:class:`CsimFeeder`).

    Attributes:
        csim_feeder: The :class:`CsimFeeder` that runs the engine steps (also ``feeder``).
    """

    def __init__(
        self,
        model: CompiledModel,
        binary: str | os.PathLike[str],
        overlay: OverlayConfig | None = None,
        compare: bool = False,
    ) -> None:
        super().__init__(model, overlay)
        self.csim_feeder = CsimFeeder(self.engine, model, Path(binary), compare=compare)
        self.feeder = self.csim_feeder


def run_compiled_csim(
    model: CompiledModel,
    feeds: Mapping[str, np.ndarray] | np.ndarray,
    binary: str | os.PathLike[str] | None = None,
    raw: bool = False,
    debug: bool = False,
    overlay: OverlayConfig | None = None,
    compare: bool = False,
) -> dict[str, Any]:
    """Run a compiled model with its engine steps in the HLS C simulation.

    Args:
        model: The compiled model.
        feeds: Input tensor name -> float array (N, C, H, W), or a bare array.
        binary: The harness for the model's overlay (default: built with :func:`build_csim`
            into a cache folder under the system temporary directory).
        raw: Return the integers instead of dequantized float32.
        debug: Also return every intermediate tensor materialised in DDR or ARM memory.
        overlay: The overlay configuration (default: the one the model names).
        compare: Check every engine step's DDR image against the Python emulator.

    Returns:
        Tensor name -> array (as :func:`~edge_dnn.emulator.run.run_compiled`).

    Raises:
        CsimBuildError, CsimMismatchError, EngineFault, DmaError: see above.
    """
    cfg = overlay if overlay is not None else load_overlay(model.overlay)
    exe = (
        Path(binary)
        if binary is not None
        else build_csim(cfg.name, Path(tempfile.gettempdir()) / "edge_dnn_csim")
    )
    return CsimRunner(model, exe, cfg, compare=compare).run(feeds, raw=raw, debug=debug)
