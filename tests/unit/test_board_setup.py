"""board_setup.sh against a simulated PYNQ board (dry run, real runs, idempotency) and a host.

The simulated board is a folder tree under ``tmp_path`` that ``EDGE_DNN_ROOT`` points the script
at: ``etc/environment``, ``proc/meminfo``, optionally ``proc/device-tree/chosen/pynq_board``,
``home/xilinx/jupyter_notebooks`` and ``usr/local/share/pynq-venv``. That venv is real (made
without pip; a ``.pth`` line lends it this interpreter's packages, pynq included), but its
``bin/python3`` is a shell script that logs every call and fakes ``-m pip install`` (it copies
the source's package and notebooks into site-packages with a dist-info registering the
``pynq.notebooks`` entry point, as the wheel does), and its ``bin/pynq`` logs and then runs pynq's
own ``get-notebooks``. The host test installs a copy of this checkout into a fresh venv for real.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "board_setup.sh"
PY_NAME = f"python{sys.version_info[0]}.{sys.version_info[1]}"
# This interpreter's package folders, lent to the venvs the tests make (a .pth line each) so that
# they need no downloads: pynq (for get-notebooks), numpy, pip and setuptools come from here.
LENT_PATHS = "".join(
    f"{p}\n" for p in sys.path if Path(p).name in ("site-packages", "dist-packages")
)
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n'
# Variables a developer's shell or CI may set that would change what the script sees.
SCRUBBED_ENV = ("BOARD", "PYNQ_JUPYTER_NOTEBOOKS", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")

FAKE_PIP = '''"""Stands in for `python -m pip install` in the simulated PYNQ venv."""
import shutil
import sys
import sysconfig
from pathlib import Path

args = sys.argv[1:]
if not args or args[0] != "install":
    sys.exit("simulated pip: only 'install' is simulated")
src = Path([a for a in args[1:] if not a.startswith("-")][-1].split("[")[0])
site = Path(sysconfig.get_paths()["purelib"])
pkg = site / "edge_dnn"
shutil.copytree(src / "edge_dnn", pkg, dirs_exist_ok=True)
(pkg / "notebooks").mkdir(exist_ok=True)
for nb in sorted((src / "notebooks").glob("*.ipynb")):
    shutil.copyfile(nb, pkg / "notebooks" / nb.name)
for name in ("zcu104", "zcu102", "ultra96"):  # the wheel ships overlay.toml in these
    (pkg / "overlay" / "_data" / name).mkdir(parents=True, exist_ok=True)
info = site / "edge_dnn-0.1.0.dist-info"
info.mkdir(exist_ok=True)
(info / "METADATA").write_text("Metadata-Version: 2.1\\nName: edge-dnn\\nVersion: 0.1.0\\n")
(info / "entry_points.txt").write_text("[pynq.notebooks]\\nedge-dnn = edge_dnn.notebooks\\n")
(info / "RECORD").write_text("")
print("Successfully installed edge-dnn-0.1.0")
'''

FAKE_PYTHON = """#!/bin/sh
# Simulated PYNQ venv interpreter: logs each call on one line, fakes pip, runs the rest.
{{ printf 'python3'; for a in "$@"; do printf ' %s' "$a" | tr '\\n' ' '; done; echo; }} >>'{log}'
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    shift 2
    exec '{real}' '{fake_pip}' "$@"
fi
exec '{real}' "$@"
"""

FAKE_PYNQ = """#!/bin/sh
# Simulated PYNQ venv `pynq` command: logs the call, then runs pynq's own get-notebooks.
{{ printf 'pynq'; for a in "$@"; do printf ' %s' "$a"; done; echo; }} >>'{log}'
[ "$1" = get-notebooks ] || {{ echo "simulated pynq: only get-notebooks" >&2; exit 2; }}
shift
exec '{real}' '{main}' "$@"
"""

# Run as a file, like pynq's console script: sys.path[0] is this file's folder, not the cwd.
GET_NOTEBOOKS_MAIN = """import sys

from pynq._cli.get_notebooks import main

sys.argv[0] = "pynq-get-notebooks"
main()
"""


def run_script(
    *args: str | Path, root: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run board_setup.sh with ``EDGE_DNN_ROOT=root`` in a scrubbed environment."""
    e = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    e["EDGE_DNN_ROOT"] = str(root)
    e.update(env or {})
    return subprocess.run(
        ["bash", str(SCRIPT), *map(str, args)],
        env=e,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def snapshot(top: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under ``top``: modification time and content hash (files)."""
    snap: dict[str, tuple[int, str]] = {}
    for dirpath, _dirs, files in os.walk(top):
        d = Path(dirpath)
        snap[str(d.relative_to(top)) + "/"] = (d.stat().st_mtime_ns, "")
        for f in files:
            p = d / f
            if not p.is_symlink():
                snap[str(p.relative_to(top))] = (
                    p.stat().st_mtime_ns,
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                )
    return snap


def lines_with(prefix: str, text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(prefix)]


@dataclass
class Board:
    """A simulated PYNQ board tree and the inputs the script installs from."""

    root: Path
    venv: Path
    purelib: Path
    log: Path
    src: Path
    overlays: Path
    jupyter: Path

    def args(self) -> list[str | Path]:
        return ["--source", self.src, "--overlay-dir", self.overlays]

    def calls(self, prefix: str = "") -> list[str]:
        text = self.log.read_text() if self.log.exists() else ""
        return [c for c in text.splitlines() if c.startswith(prefix)]

    @property
    def placed(self) -> Path:
        return self.purelib / "edge_dnn" / "overlay" / "_data" / "zcu104"


def make_board(
    tmp_path: Path,
    environment: str = "BOARD=ZCU104\n",
    meminfo_cma_kb: int | None = 262144,
    device_tree_board: str | None = None,
    setuptools_version: str = "80.9.0",
) -> Board:
    root = tmp_path / "board"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "environment").write_text(
        'PATH="/usr/local/bin:/usr/bin:/bin"\n'
        "PYNQ_JUPYTER_NOTEBOOKS=/home/xilinx/jupyter_notebooks\n"
        "PYNQ_PYTHON=python3.10\n" + environment
    )
    (root / "proc").mkdir()
    meminfo = "MemTotal:        2020680 kB\nMemFree:         1441628 kB\n"
    if meminfo_cma_kb is not None:
        meminfo += f"CmaTotal:        {meminfo_cma_kb} kB\nCmaFree:          200000 kB\n"
    (root / "proc" / "meminfo").write_text(meminfo)
    if device_tree_board is not None:
        node = root / "proc" / "device-tree" / "chosen" / "pynq_board"
        node.parent.mkdir(parents=True)
        node.write_bytes(device_tree_board.encode() + b"\0")  # NUL-terminated, as in the DT
    jupyter = root / "home" / "xilinx" / "jupyter_notebooks"
    jupyter.mkdir(parents=True)

    venv = root / "usr" / "local" / "share" / "pynq-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = venv / "lib" / PY_NAME / "site-packages"
    (purelib / "_parent.pth").write_text(LENT_PATHS)
    st = purelib / f"setuptools-{setuptools_version}.dist-info"
    st.mkdir()
    (st / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: setuptools\nVersion: {setuptools_version}\n"
    )
    log = tmp_path / "calls.log"
    fake_pip = tmp_path / "fake_pip.py"
    fake_pip.write_text(FAKE_PIP)
    get_notebooks = tmp_path / "get_notebooks_main.py"
    get_notebooks.write_text(GET_NOTEBOOKS_MAIN)
    real = venv / "bin" / PY_NAME
    for name, text in (
        ("python3", FAKE_PYTHON.format(log=log, real=real, fake_pip=fake_pip)),
        ("pynq", FAKE_PYNQ.format(log=log, real=real, main=get_notebooks)),
    ):
        exe = venv / "bin" / name
        exe.unlink(missing_ok=True)
        exe.write_text(text)
        exe.chmod(0o755)

    src = tmp_path / "src"
    (src / "edge_dnn").mkdir(parents=True)
    (src / "pyproject.toml").write_text('[project]\nname = "edge-dnn"\nversion = "0.1.0"\n')
    (src / "edge_dnn" / "__init__.py").write_text('"""Simulated package."""\n')
    (src / "notebooks").mkdir()
    for nb in ("01_getting_started.ipynb", "02_camera_pipeline.ipynb"):
        (src / "notebooks" / nb).write_text(NOTEBOOK.replace("[]", f'["{nb}"]', 1))

    overlays = tmp_path / "vivado_out"
    overlays.mkdir()
    rng = np.random.default_rng(7)
    (overlays / "edge_dnn_zcu104.bit").write_bytes(rng.integers(0, 256, 4096, np.uint8).tobytes())
    (overlays / "edge_dnn_zcu104.hwh").write_text("<?xml version='1.0'?><EDKSYSTEM/>\n")
    sums = "".join(
        f"{hashlib.sha256((overlays / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("edge_dnn_zcu104.bit", "edge_dnn_zcu104.hwh")
    )
    (overlays / "edge_dnn_zcu104.sha256").write_text(sums)
    return Board(root, venv, purelib, log, src, overlays, jupyter)


# --------------------------------------------------------------------------------- basics
def test_script_parses_and_has_help(tmp_path: Path) -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    r = run_script("--help", root=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("Usage: board_setup.sh [options]")
    for opt in ("--dry-run", "--overlay-dir", "--extras", "--board", "--min-cma-mib"):
        assert opt in r.stdout


# ------------------------------------------------------------------------ simulated board
def test_dry_run_on_simulated_board_prints_every_action_and_changes_nothing(
    tmp_path: Path,
) -> None:
    b = make_board(tmp_path)
    before = snapshot(b.root)
    r = run_script("--dry-run", *b.args(), root=b.root)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.splitlines()[0] == (
        f"edge-dnn setup on PYNQ board ZCU104 (from {b.root}/etc/environment): overlay zcu104, "
        f"Python {sys.version_info[0]}.{sys.version_info[1]} {b.venv}/bin/python3"
    )
    assert "[ok] contiguous memory (CMA) pool: 256 MiB >= 128 MiB" in out
    dest = b.placed
    assert lines_with("[dry-run] ", out) == [
        f"[dry-run] install edge-dnn from {b.src} into {b.purelib}: {b.venv}/bin/python3 -m pip "
        f"install --disable-pip-version-check --no-build-isolation {b.src}",
        f"[dry-run] record the install in {b.purelib}/.edge_dnn_setup.stamp: write_stamp "
        f"{b.purelib}/.edge_dnn_setup.stamp",
        *(
            f"[dry-run] place overlay file edge_dnn_zcu104.{ext}: install -D -m 0644 "
            f"{b.overlays}/edge_dnn_zcu104.{ext} {dest}/edge_dnn_zcu104.{ext}"
            for ext in ("bit", "hwh", "sha256")
        ),
        f"[dry-run] deliver the notebooks to {b.jupyter}/edge-dnn: {b.venv}/bin/pynq "
        f"get-notebooks edge-dnn -p {b.jupyter} -o -f",
        "[dry-run] 6 action(s) would be performed; nothing was changed",
    ]
    assert snapshot(b.root) == before
    assert b.calls() and all(c.startswith("python3 -I -c") for c in b.calls())  # probes only


def test_real_run_then_second_run_changes_nothing(tmp_path: Path) -> None:
    b = make_board(tmp_path)
    r = run_script(*b.args(), root=b.root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "done: 6 action(s) performed"
    assert len(b.calls("python3 -m pip install")) == 1
    assert b.calls("pynq") == [f"pynq get-notebooks edge-dnn -p {b.jupyter} -o -f"]
    for ext in ("bit", "hwh", "sha256"):
        name = f"edge_dnn_zcu104.{ext}"
        assert (b.placed / name).read_bytes() == (b.overlays / name).read_bytes()
    for nb in (b.src / "notebooks").iterdir():  # delivered by pynq's own get-notebooks
        assert (b.jupyter / "edge-dnn" / nb.name).read_text() == nb.read_text()
    assert (b.purelib / ".edge_dnn_setup.stamp").is_file()

    settled = snapshot(b.root)
    n_calls = len(b.calls())
    r = run_script(*b.args(), root=b.root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "nothing to do: edge-dnn is set up"
    assert not lines_with("[run]", r.stdout)
    assert snapshot(b.root) == settled
    assert all(c.startswith("python3 -I -c") for c in b.calls()[n_calls:])
    r = run_script("--dry-run", *b.args(), root=b.root)
    assert r.returncode == 0 and not lines_with("[dry-run]", r.stdout)
    assert r.stdout.splitlines()[-1] == "nothing to do: edge-dnn is set up"

    # A changed source is reinstalled; overlay files and notebooks stay as they are.
    (b.src / "edge_dnn" / "__init__.py").write_text('"""Simulated package, changed."""\n')
    r = run_script(*b.args(), root=b.root)
    assert r.returncode == 0, r.stderr
    assert [ln.split(":")[0] for ln in lines_with("[run]", r.stdout)] == [
        f"[run] install edge-dnn from {b.src} into {b.purelib}",
        f"[run] record the install in {b.purelib}/.edge_dnn_setup.stamp",
    ]
    assert len(b.calls("python3 -m pip install")) == 2 and len(b.calls("pynq")) == 1

    # A notebook the user edited is not overwritten without --force-notebooks.
    edited = b.jupyter / "edge-dnn" / "01_getting_started.ipynb"
    edited.write_text(NOTEBOOK.replace("[]", '["my edits"]', 1))
    settled = snapshot(b.root)
    r = run_script(*b.args(), root=b.root)
    assert r.returncode == 0, r.stderr
    assert "not delivering the notebooks" in r.stderr and str(edited) in r.stderr
    assert snapshot(b.root) == settled
    r = run_script(*b.args(), "--force-notebooks", root=b.root)
    assert r.returncode == 0, r.stderr
    assert edited.read_text() == (b.src / "notebooks" / edited.name).read_text()
    assert len(b.calls("pynq")) == 2


@pytest.mark.parametrize(
    ("environment", "env_board", "device_tree", "expected"),
    [
        ("", None, "Ultra96V2", ("Ultra96V2", "proc/device-tree/chosen/pynq_board", "ultra96")),
        (
            "BOARD=Unknown\n",
            None,
            "ZCU102",
            ("ZCU102", "proc/device-tree/chosen/pynq_board", "zcu102"),
        ),
        ('BOARD="ZCU102"\n', None, "ZCU104", ("ZCU102", "etc/environment", "zcu102")),
        ("BOARD=ZCU104\n", "Ultra96", None, ("Ultra96", "$BOARD", "ultra96")),
    ],
)
def test_board_detection_order(
    tmp_path: Path,
    environment: str,
    env_board: str | None,
    device_tree: str | None,
    expected: tuple[str, str, str],
) -> None:
    b = make_board(tmp_path, environment=environment, device_tree_board=device_tree)
    env = {"BOARD": env_board} if env_board else None
    r = run_script("--dry-run", "--no-overlay", "--source", b.src, root=b.root, env=env)
    assert r.returncode == 0, r.stderr
    name, source, overlay = expected
    source = source if source.startswith("$") else f"{b.root}/{source}"
    assert r.stdout.startswith(
        f"edge-dnn setup on PYNQ board {name} (from {source}): overlay {overlay},"
    )
    assert "[ok] overlay files not placed (--no-overlay)" in r.stdout
    assert not [ln for ln in lines_with("[dry-run]", r.stdout) if "overlay file" in ln]


def test_board_option_overrides_detection(tmp_path: Path) -> None:
    b = make_board(tmp_path)
    r = run_script("--dry-run", "--no-overlay", "--source", b.src, "--board", "zcu102", root=b.root)
    assert r.returncode == 0, r.stderr
    assert "board zcu102 (from --board): overlay zcu102," in r.stdout


@pytest.mark.parametrize(("how", "name"), [("environment", "Pynq-Z2"), ("option", "KV260")])
def test_unknown_board_is_a_clear_error(tmp_path: Path, how: str, name: str) -> None:
    b = make_board(tmp_path, environment=f"BOARD={name}\n" if how == "environment" else "")
    extra = ["--board", name] if how == "option" else []
    r = run_script("--dry-run", *b.args(), *extra, root=b.root)
    assert r.returncode == 1
    assert f"error: unsupported board '{name}'" in r.stderr
    assert "ZCU104 (zcu104), ZCU102 (zcu102) and Ultra96 V1/V2 (ultra96)" in r.stderr
    assert not b.calls()  # failed before touching Python


def test_board_without_a_name_is_a_clear_error(tmp_path: Path) -> None:
    b = make_board(tmp_path, environment="")
    r = run_script("--dry-run", *b.args(), root=b.root)
    assert r.returncode == 1 and "cannot tell which board this is" in r.stderr
    assert "--board NAME" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown option: --bogus"),
        (["stray"], "unexpected argument: stray"),
        (["--overlay-dir"], "option --overlay-dir needs a value"),
        (["--board="], "option --board needs a non-empty value"),
        (["--dry-run=yes"], "option --dry-run takes no value"),
        (["--mode", "cloud"], "--mode must be auto, board or host, not 'cloud'"),
        (["--min-cma-mib", "lots"], "--min-cma-mib must be a whole number of MiB"),
        (["--extras", "test;rm"], "--extras must be comma-separated extra names"),
        (["--source", "/nonexistent"], "--source /nonexistent is not a directory"),
        (["--wheel", "/etc/hostname"], "--wheel /etc/hostname is not a wheel file"),
        (["--python", "python3"], "--python only apply on a host"),
    ],
)
def test_bad_options_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    b = make_board(tmp_path)
    r = run_script(*args, root=b.root)
    assert r.returncode == 2, r.stdout
    assert message in r.stderr and "Try 'board_setup.sh --help'." in r.stderr
    assert r.stdout == ""


def test_board_options_on_a_host_are_refused(tmp_path: Path) -> None:
    r = run_script("--dry-run", "--board", "ZCU104", root=tmp_path)  # no PYNQ in this tree
    assert r.returncode == 2
    assert "--board only apply on a PYNQ board, and none was detected" in r.stderr


def test_checksum_mismatch_stops_before_any_change(tmp_path: Path) -> None:
    b = make_board(tmp_path)
    bit = b.overlays / "edge_dnn_zcu104.bit"
    bit.write_bytes(bit.read_bytes()[:-1] + b"\x00")  # the copy got corrupted
    before = snapshot(b.root)
    r = run_script(*b.args(), root=b.root)
    assert r.returncode == 1
    assert f"error: checksum mismatch for {bit}: sha256 " in r.stderr
    assert snapshot(b.root) == before and not b.calls("python3 -m pip")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("remove_hwh", "overlay files missing in {dir}: edge_dnn_zcu104.hwh"),
        ("remove_sums", "overlay files missing in {dir}: edge_dnn_zcu104.sha256"),
        ("drop_hwh_sum", "{dir}/edge_dnn_zcu104.sha256 has no sha256 line for edge_dnn_zcu104.hwh"),
    ],
)
def test_incomplete_overlay_folder_is_an_error(tmp_path: Path, damage: str, message: str) -> None:
    b = make_board(tmp_path)
    sums = b.overlays / "edge_dnn_zcu104.sha256"
    if damage == "remove_hwh":
        (b.overlays / "edge_dnn_zcu104.hwh").unlink()
    elif damage == "remove_sums":
        sums.unlink()
    else:
        sums.write_text(sums.read_text().splitlines()[0] + "\n")
    r = run_script("--dry-run", *b.args(), root=b.root)
    assert r.returncode == 1
    assert message.format(dir=b.overlays) in r.stderr
    if damage != "drop_hwh_sum":
        assert "--no-overlay" in r.stderr and "--overlay-dir" in r.stderr


# Stand-ins for the Xilinx tools, run by the generated Makefile: the "bitstream" is a counter
# kept in vivado_runs, so that every Vivado run produces different bytes.
FAKE_HLS = """#!/bin/sh
ip=hls/edge_dnn_engine/sol/impl/ip
mkdir -p $ip && echo '<component/>' >$ip/component.xml
"""
FAKE_VIVADO = """#!/bin/sh
n=$(( $(cat vivado_runs 2>/dev/null || echo 0) + 1 )); echo $n >vivado_runs
mkdir -p out && printf 'bitstream %s\\n' $n >out/edge_dnn_{name}.bit
printf '<?xml version="1.0"?><EDKSYSTEM run="%s"/>\\n' $n >out/edge_dnn_{name}.hwh
"""


def make_overlay_build(src: Path, name: str, tools: Path) -> list[str]:
    """``<src>/overlays/<name>/build`` with this checkout's generated Makefile and Tcl, the files
    the Makefile depends on, and the ``make`` command line that runs it with fake tools."""
    build = src / "overlays" / name / "build"
    shutil.copytree(REPO / "overlays" / name / "build", build)
    for dep in (f"overlays/{name}/generated/edge_dnn_config.h",
                "overlays/_common/generated/edge_dnn_isa.h"):  # fmt: skip
        (src / dep).parent.mkdir(parents=True, exist_ok=True)
        (src / dep).write_text("/* stand-in */\n")
    tools.mkdir(exist_ok=True)
    for tool, text in (("hls", FAKE_HLS), ("vivado", FAKE_VIVADO.format(name=name))):
        (tools / tool).write_text(text)
        (tools / tool).chmod(0o755)
    return ["make", "-s", "-C", str(build), f"VIVADO={tools / 'vivado'}", f"HLS={tools / 'hls'}"]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_default_overlay_folder_is_the_build_output(tmp_path: Path) -> None:
    b = make_board(tmp_path)
    for nb in (b.src / "notebooks").iterdir():  # no notebooks: keeps the real runs short
        nb.unlink()
    make = make_overlay_build(b.src, "zcu104", tmp_path / "tools")
    out = b.src / "overlays" / "zcu104" / "build" / "out"

    # The generated Makefile writes the checksums after the bitstream and the .hwh.
    subprocess.run(make, check=True, capture_output=True, timeout=30)
    names = ("edge_dnn_zcu104.bit", "edge_dnn_zcu104.hwh")
    expected = "".join(
        f"{hashlib.sha256((out / n).read_bytes()).hexdigest()}  {n}\n" for n in names
    )
    assert (out / "edge_dnn_zcu104.sha256").read_text() == expected
    assert sorted(p.name for p in out.iterdir()) == [*names, "edge_dnn_zcu104.sha256"]

    # board_setup.sh takes them from there without --overlay-dir and accepts the checksums.
    r = run_script("--dry-run", "--source", b.src, root=b.root)
    assert r.returncode == 0, r.stderr
    assert f"[ok] overlay files {names[0]} and {names[1]} in {out} match" in r.stdout
    assert f"install -D -m 0644 {out}/edge_dnn_zcu104.bit " in r.stdout
    r = run_script("--source", b.src, root=b.root)
    assert r.returncode == 0, r.stderr
    for n in (*names, "edge_dnn_zcu104.sha256"):
        assert (b.placed / n).read_bytes() == (out / n).read_bytes()

    # A rebuild (new bitstream, new checksums) only replaces the overlay files: the build
    # products are not part of the installed source, so the package is not reinstalled.
    (b.src / "overlays" / "zcu104" / "build" / "build.tcl").touch()
    subprocess.run(make, check=True, capture_output=True, timeout=30)
    assert (out / "edge_dnn_zcu104.bit").read_text() == "bitstream 2\n"
    r = run_script("--source", b.src, root=b.root)
    assert r.returncode == 0, r.stderr
    assert [ln.split(":")[0] for ln in lines_with("[run]", r.stdout)] == [
        f"[run] place overlay file edge_dnn_zcu104.{ext}" for ext in ("bit", "hwh", "sha256")
    ]
    assert (b.placed / "edge_dnn_zcu104.bit").read_text() == "bitstream 2\n"
    r = run_script("--dry-run", "--source", b.src, root=b.root)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "nothing to do: edge-dnn is set up"

    # Without a build the error says where the files were expected and how to make them.
    shutil.rmtree(out)
    r = run_script("--dry-run", "--source", b.src, root=b.root)
    assert r.returncode == 1
    assert f"overlay files missing in {out}" in r.stderr
    assert "make -C overlays/zcu104/build" in r.stderr


@pytest.mark.parametrize(
    ("cma_kb", "min_mib", "warning"),
    [
        (262144, None, None),
        (65536, None, "contiguous memory (CMA) pool is only 64 MiB"),
        (65536, "32", None),
        (None, None, "has no CmaTotal line"),
    ],
)
def test_cma_size_check(
    tmp_path: Path, cma_kb: int | None, min_mib: str | None, warning: str | None
) -> None:
    b = make_board(tmp_path, meminfo_cma_kb=cma_kb)
    extra = ["--min-cma-mib", min_mib] if min_mib else []
    r = run_script("--dry-run", *b.args(), *extra, root=b.root)
    assert r.returncode == 0, r.stderr  # a warning, not a failure
    if warning is None:
        assert "WARNING" not in r.stderr
        assert "[ok] contiguous memory (CMA) pool:" in r.stdout
    else:
        assert "board_setup.sh: WARNING: " in r.stderr and warning in r.stderr
    if cma_kb == 65536 and min_mib is None:
        assert "below the 128 MiB edge-dnn needs" in r.stderr and "cma=128M" in r.stderr


def test_old_setuptools_needs_a_wheel(tmp_path: Path) -> None:
    b = make_board(tmp_path, setuptools_version="59.6.0")  # Ubuntu 22.04's, under PYNQ 3.x
    r = run_script("--dry-run", *b.args(), root=b.root)
    assert r.returncode == 1
    assert "needs setuptools >= 77" in r.stderr and "(found: 59.6.0)" in r.stderr
    assert "--wheel" in r.stderr
    wheel = tmp_path / "edge_dnn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")  # never opened: a dry run only names it
    r = run_script("--dry-run", *b.args(), "--wheel", wheel, root=b.root)
    assert r.returncode == 0, r.stderr
    pip = f"{b.venv}/bin/python3 -m pip install --disable-pip-version-check --no-build-isolation"
    assert f"{pip} --force-reinstall --no-deps {wheel}" in r.stdout
    assert f"[dry-run] install the dependencies of edge-dnn: {pip} {wheel}" in r.stdout


# ------------------------------------------------------------------------------------ host
def test_host_dry_run_installs_the_checkout_editable(tmp_path: Path) -> None:
    r = run_script("--dry-run", "--python", sys.executable, root=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("edge-dnn setup on a host (the board is emulated)")
    assert f"-m pip install --disable-pip-version-check -e {REPO}\n" in r.stdout
    r = run_script(
        "--dry-run", "--python", sys.executable, "--extras", "test", "--no-editable", root=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert f"-m pip install --disable-pip-version-check {REPO}\\[test\\]\n" in r.stdout


def _copy_checkout(dst: Path) -> None:
    """The files a build of edge-dnn reads, from this checkout (symlinks kept)."""
    dst.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dst / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("edge_dnn", "arm_scheduler", "vision_pipeline", "overlays", "notebooks"):
        shutil.copytree(REPO / name, dst / name, symlinks=True, ignore=skip)


def _setuptools_major() -> int:
    try:
        return int(md.version("setuptools").split(".")[0])
    except md.PackageNotFoundError:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["--editable", "--no-editable"])
def test_host_install_into_fresh_venv_is_real_and_idempotent(tmp_path: Path, mode: str) -> None:
    src = tmp_path / "src"
    _copy_checkout(src)
    (src / "notebooks" / "00_probe.ipynb").write_text(NOTEBOOK)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = venv / "lib" / PY_NAME / "site-packages"
    # pip, setuptools, numpy and pynq come from this environment; the install goes to the venv.
    (purelib / "_parent.pth").write_text(LENT_PATHS)
    py = venv / "bin" / "python"
    (tmp_path / "no-board").mkdir()  # EDGE_DNN_ROOT without PYNQ: host mode
    # With setuptools >= 77 here (the test extra) nothing is downloaded; otherwise pip fetches
    # the build requirements from the package index.
    isolation = "--no-build-isolation" if _setuptools_major() >= 77 else "--build-isolation"
    args: list[str | Path] = ["--python", py, "--source", src, "--no-deps", mode, isolation]
    r = run_script(*args, root=tmp_path / "no-board", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "done: 2 action(s) performed"

    check = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.metadata as md; d = md.distribution('edge-dnn');"
            "print(d.version, d.locate_file(''));"
            "print(*[e.value for e in md.entry_points(group='pynq.notebooks')])",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV},
        cwd=tmp_path,  # `python -c` puts the cwd first on sys.path: keep the checkout off it
    )
    assert check.stdout.splitlines() == [f"0.1.0 {purelib}", "edge_dnn.notebooks"]
    if mode == "--no-editable":  # package data really copied (symlinks followed)
        assert (purelib / "edge_dnn" / "notebooks" / "00_probe.ipynb").read_text() == NOTEBOOK
        assert (purelib / "edge_dnn" / "overlay" / "_data" / "zcu104" / "overlay.toml").is_file()
    else:
        assert not (purelib / "edge_dnn").exists()
    # pynq's own get-notebooks finds the notebooks through the entry point.
    jupyter = tmp_path / "jupyter_notebooks"
    subprocess.run(
        [
            str(py),
            "-c",
            "import sys; from pynq._cli.get_notebooks import main;"
            "sys.argv = ['pynq-get-notebooks', 'edge-dnn', '-p', sys.argv[1], '-o']; main()",
            str(jupyter),
        ],
        capture_output=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV},
        cwd=tmp_path,  # `python -c` puts the cwd first on sys.path: keep the checkout off it
    )
    assert (jupyter / "edge-dnn" / "00_probe.ipynb").read_text() == NOTEBOOK

    settled = snapshot(venv)
    r = run_script(*args, root=tmp_path / "no-board")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "nothing to do: edge-dnn is set up"
    assert snapshot(venv) == settled
