#!/usr/bin/env bash
# board_setup.sh: set edge-dnn up on a PYNQ board (package in PYNQ's Python environment,
# notebooks through `pynq get-notebooks`, checksum-verified overlay files, CMA check) or on a
# host (package only: the board is emulated there). Idempotent: every step checks before it acts,
# so a second run changes nothing. `board_setup.sh --help` lists the options.
#
# PYNQ facts relied on (PYNQ 3.x SD-card images; sources in github.com/Xilinx/PYNQ, sdbuild/):
# * Board name: /etc/profile.d/boardname.sh (sdbuild/packages/pynq/boardname.sh) exports BOARD,
#   when unset, from /proc/device-tree/chosen/pynq_board, a NUL-terminated string, or "Unknown";
#   pynq itself takes that node's existence to mean "running on a board" (pynq/ps.py ON_TARGET).
#   sudo and non-login shells may lack $BOARD, so the node is read directly as well; a BOARD= line
#   in /etc/environment (some custom images put one there) is honoured too.
# * Python: pynq lives in the virtual environment made by
#   `python3 -m venv --system-site-packages /usr/local/share/pynq-venv`
#   (sdbuild/packages/python_packages_jammy/qemu.sh), activated by /etc/profile.d/pynq_venv.sh.
# * Notebooks: /etc/environment sets PYNQ_JUPYTER_NOTEBOOKS=/home/xilinx/jupyter_notebooks
#   (sdbuild/ubuntu/<release>/<arch>/patch/etc/environment.diff), the folder Jupyter serves.
# * `pynq get-notebooks` (pynq/_cli/get_notebooks.py) walks the entry points of the group
#   "pynq.notebooks"; each names an importable package whose folder is copied to
#   <path>/<entry point name>/ (pynqutils.setup_utils.deliver_notebooks; a root __init__.py is
#   skipped, -o skips overlay-resource lookup, -f overwrites). It remembers delivered packages in
#   <path>/.pynq-notebooks and skips them without -f. pyproject.toml registers
#   `edge-dnn = "edge_dnn.notebooks"`: edge_dnn/notebooks is a symlink to notebooks/ that
#   setuptools follows, so the installed package holds notebooks/*.ipynb.
# * Contiguous memory: pynq.allocate takes every DMA buffer from the kernel's CMA pool, whose size
#   /proc/meminfo reports as "CmaTotal: <n> kB" and the kernel parameter cma=<n>M sets.
#
# Environment:
#   EDGE_DNN_ROOT  prefix of every board path the script reads or writes (default /): the tests
#                  point it at a simulated board tree. It prefixes /etc/environment,
#                  /proc/device-tree/chosen/pynq_board, /proc/meminfo, /usr/local/share/pynq-venv
#                  and the notebooks folder ($PYNQ_JUPYTER_NOTEBOOKS, read on the board).
#   BOARD, PYNQ_JUPYTER_NOTEBOOKS  as set by PYNQ (see above).
set -euo pipefail

readonly PROG=board_setup.sh
# Smallest CMA pool accepted without a warning. Every buffer the runtime hands to the DMA engines
# (the compiled model's DDR image: weights, activations, command stream; input and output tensors;
# camera frame buffers of the two-sensor pipeline) comes from CMA. The models bundled today need
# far less (`edge-dnn compile` reports each model's "DDR image"); 128 MiB leaves room for the frame
# buffers and for bigger user networks. --min-cma-mib changes it.
readonly MIN_CMA_MIB_DEFAULT=128
# pyproject.toml's build-system requirement (PEP 639 license expression): a build without
# isolation uses the target environment's setuptools, which must be at least this.
readonly MIN_SETUPTOOLS_MAJOR=77
readonly STAMP_NAME=.edge_dnn_setup.stamp
readonly NB_ENTRY=edge-dnn # the pynq.notebooks entry point name = the delivered folder's name

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
Usage: $PROG [options]

Sets edge-dnn up, idempotently (a second run changes nothing).
On a PYNQ board (detected from /proc/device-tree/chosen/pynq_board or PYNQ's virtual environment
at /usr/local/share/pynq-venv; board from --board, \$BOARD, /etc/environment or the device tree):
  1. checks the contiguous-memory (CMA) pool size in /proc/meminfo (warns below the minimum);
  2. installs this checkout (or --wheel) into PYNQ's Python environment (pip, no build isolation);
  3. copies the overlay files edge_dnn_<overlay>.bit/.hwh into the installed package, after
     checking them against edge_dnn_<overlay>.sha256 (sha256sum format) beside them;
  4. delivers the notebooks with \`pynq get-notebooks edge-dnn\` to \$PYNQ_JUPYTER_NOTEBOOKS/edge-dnn.
  Boards: ZCU104 -> overlay zcu104, ZCU102 -> zcu102, Ultra96 (V1/V2) -> ultra96.
On a host: installs this checkout into the current Python environment (editable by default).

Options:
  -n, --dry-run          print every action (one line each, prefixed [dry-run]); change nothing
  --mode auto|board|host where to install (default auto: board when PYNQ is detected)
  --source DIR           the edge-dnn checkout to install (default: this script's folder)
  --extras LIST          install extras, comma separated (e.g. test)
  --wheel FILE           install this wheel instead of building the checkout
  --no-deps              do not install dependencies (pip --no-deps)
  --no-build-isolation   build with the target environment's setuptools (>= $MIN_SETUPTOOLS_MAJOR) offline
                         (default on a board; on a host pip fetches the build requirements)
  --build-isolation      let pip fetch the build requirements (default on a host)
 host only:
  --python PY            the environment's interpreter (default \$VIRTUAL_ENV/bin/python, else python3)
  --editable, --no-editable   pip install -e (default) or a regular install
 board only:
  --board NAME           the board, overriding detection (ZCU104, ZCU102, Ultra96, Ultra96V2, ...)
  --pynq-venv DIR        PYNQ's virtual environment (default <root>/usr/local/share/pynq-venv)
  --overlay-dir DIR      folder holding edge_dnn_<overlay>.{bit,hwh,sha256} (default:
                         <source>/overlays/<overlay>/build/out, where \`make -C overlays/<overlay>/build\`
                         writes them, the .sha256 included)
  --no-overlay           do not place overlay files (the package then runs on the emulator only)
  --notebooks-dir DIR    deliver the notebooks under DIR (default \$PYNQ_JUPYTER_NOTEBOOKS)
  --force-notebooks      overwrite delivered notebooks that differ from the package's
  --min-cma-mib N        CMA size below which to warn, MiB (default $MIN_CMA_MIB_DEFAULT)
  -h, --help             show this help

Environment: EDGE_DNN_ROOT (default /) prefixes every board path (tests use a simulated board).
Exit status: 0 done (warnings included), 1 failure, 2 bad usage.
EOF
}

die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

usage_error() {
	printf "%s: error: %s\nTry '%s --help'.\n" "$PROG" "$*" "$PROG" >&2
	exit 2
}

warn() { printf '%s: WARNING: %s\n' "$PROG" "$*" >&2; }
ok() { printf '[ok] %s\n' "$*"; }

CHANGES=0
DRY_RUN=0

# act DESCRIPTION COMMAND...: run one action, or with --dry-run only print it.
act() {
	local what=$1 cmd
	shift
	printf -v cmd '%q ' "$@"
	cmd=${cmd% }
	CHANGES=$((CHANGES + 1))
	if ((DRY_RUN)); then
		printf '[dry-run] %s: %s\n' "$what" "$cmd"
	else
		printf '[run] %s: %s\n' "$what" "$cmd"
		"$@" || die "$what failed: $cmd"
	fi
}

# ------------------------------------------------------------------------------------ options
MODE=auto
SRC=$SCRIPT_DIR
EXTRAS=""
WHEEL=""
NO_DEPS=0
BUILD_ISOLATION="" # "" = the mode's default
PYTHON_OPT=""
EDITABLE=""        # "" = the mode's default
BOARD_OPT=""
PYNQ_VENV_OPT=""
OVERLAY_DIR=""
NO_OVERLAY=0
NB_DIR_OPT=""
FORCE_NB=0
MIN_CMA_MIB=$MIN_CMA_MIB_DEFAULT
BOARD_ONLY_USED=""
HOST_ONLY_USED=""

while (($#)); do
	opt=$1
	val=""
	has_val=0
	if [[ $opt == --*=* ]]; then
		val=${opt#*=}
		opt=${opt%%=*}
		has_val=1
	fi
	case $opt in
	--mode | --source | --extras | --wheel | --python | --board | --pynq-venv | --overlay-dir | \
		--notebooks-dir | --min-cma-mib)
		if ((!has_val)); then
			(($# >= 2)) || usage_error "option $opt needs a value"
			val=$2
			shift
		fi
		[[ -n $val ]] || usage_error "option $opt needs a non-empty value"
		case $opt in
		--mode) MODE=$val ;;
		--source) SRC=$val ;;
		--extras) EXTRAS=$val ;;
		--wheel) WHEEL=$val ;;
		--python) PYTHON_OPT=$val HOST_ONLY_USED+=" $opt" ;;
		--board) BOARD_OPT=$val BOARD_ONLY_USED+=" $opt" ;;
		--pynq-venv) PYNQ_VENV_OPT=$val BOARD_ONLY_USED+=" $opt" ;;
		--overlay-dir) OVERLAY_DIR=$val BOARD_ONLY_USED+=" $opt" ;;
		--notebooks-dir) NB_DIR_OPT=$val BOARD_ONLY_USED+=" $opt" ;;
		--min-cma-mib) MIN_CMA_MIB=$val BOARD_ONLY_USED+=" $opt" ;;
		esac
		;;
	-h | --help | -n | --dry-run | --no-deps | --no-build-isolation | --build-isolation | \
		--editable | --no-editable | --no-overlay | --force-notebooks)
		((!has_val)) || usage_error "option $opt takes no value"
		case $opt in
		-h | --help)
			usage
			exit 0
			;;
		-n | --dry-run) DRY_RUN=1 ;;
		--no-deps) NO_DEPS=1 ;;
		--no-build-isolation) BUILD_ISOLATION=0 ;;
		--build-isolation) BUILD_ISOLATION=1 ;;
		--editable) EDITABLE=1 HOST_ONLY_USED+=" $opt" ;;
		--no-editable) EDITABLE=0 HOST_ONLY_USED+=" $opt" ;;
		--no-overlay) NO_OVERLAY=1 BOARD_ONLY_USED+=" $opt" ;;
		--force-notebooks) FORCE_NB=1 BOARD_ONLY_USED+=" $opt" ;;
		esac
		;;
	-*) usage_error "unknown option: $1" ;;
	*) usage_error "unexpected argument: $1" ;;
	esac
	shift
done

case $MODE in
auto | board | host) ;;
*) usage_error "--mode must be auto, board or host, not '$MODE'" ;;
esac
[[ $MIN_CMA_MIB =~ ^[0-9]+$ ]] || usage_error "--min-cma-mib must be a whole number of MiB, not '$MIN_CMA_MIB'"
if [[ -n $EXTRAS && ! $EXTRAS =~ ^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$ ]]; then
	usage_error "--extras must be comma-separated extra names (e.g. test), not '$EXTRAS'"
fi
[[ -d $SRC ]] || usage_error "--source $SRC is not a directory"
SRC=$(cd "$SRC" && pwd) # absolute: pip reads a bare word as a package name
[[ -f $SRC/pyproject.toml ]] || usage_error "$SRC is not an edge-dnn checkout (no pyproject.toml)"
if [[ -n $WHEEL ]]; then
	[[ $WHEEL == *.whl && -f $WHEEL ]] || usage_error "--wheel $WHEEL is not a wheel file"
	WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
	[[ $EDITABLE != 1 ]] || usage_error "--wheel and --editable exclude each other"
fi
if [[ -n $OVERLAY_DIR ]]; then
	[[ -d $OVERLAY_DIR ]] || usage_error "--overlay-dir $OVERLAY_DIR is not a directory"
	[[ $NO_OVERLAY == 0 ]] || usage_error "--overlay-dir and --no-overlay exclude each other"
	OVERLAY_DIR=$(cd "$OVERLAY_DIR" && pwd)
fi
if [[ -n $NB_DIR_OPT && $NB_DIR_OPT != /* ]]; then
	NB_DIR_OPT=$PWD/$NB_DIR_OPT
fi

ROOT=${EDGE_DNN_ROOT:-/}
[[ -d $ROOT ]] || die "EDGE_DNN_ROOT=$ROOT is not a directory"
ROOT=${ROOT%/} # "" for /: board paths are "$ROOT/etc/..."
PYNQ_VENV=${PYNQ_VENV_OPT:-$ROOT/usr/local/share/pynq-venv}
DT_BOARD_NODE=$ROOT/proc/device-tree/chosen/pynq_board

if [[ $MODE == auto ]]; then
	if [[ -e $DT_BOARD_NODE || -x $PYNQ_VENV/bin/python3 || -n $PYNQ_VENV_OPT ]]; then
		MODE=board
	else
		MODE=host
	fi
fi
if [[ $MODE == host && -n $BOARD_ONLY_USED ]]; then
	usage_error "${BOARD_ONLY_USED# } only apply on a PYNQ board, and none was detected" \
		"(no $DT_BOARD_NODE, no $PYNQ_VENV/bin/python3); use --mode board to insist"
fi
if [[ $MODE == board && -n $HOST_ONLY_USED ]]; then
	usage_error "${HOST_ONLY_USED# } only apply on a host; on a board edge-dnn goes into" \
		"PYNQ's environment ($PYNQ_VENV) as a regular install"
fi
if [[ -z $BUILD_ISOLATION ]]; then
	# A board may be offline: pip must not need to fetch build requirements there. A host gets
	# what a plain `pip install -e .` does.
	if [[ $MODE == board ]]; then BUILD_ISOLATION=0; else BUILD_ISOLATION=1; fi
fi
if [[ -z $EDITABLE ]]; then
	if [[ $MODE == host && -z $WHEEL ]]; then EDITABLE=1; else EDITABLE=0; fi
fi

# --------------------------------------------------------------------------------- helpers

# env_file_value FILE NAME: value of the last NAME=... line of a pam_env style file, unquoted.
env_file_value() {
	local file=$1 name=$2 line value=""
	[[ -r $file ]] || return 0
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line%$'\r'}
		line=${line#export }
		[[ $line == "$name="* ]] || continue
		value=${line#"$name="}
		if [[ $value == \"*\" || $value == \'*\' ]]; then
			value=${value:1:${#value}-2}
		fi
	done <"$file"
	printf '%s' "$value"
}

# overlay_for_board NAME: the edge-dnn overlay (overlays/<name>/overlay.toml) built for a board.
overlay_for_board() {
	local key=${1^^}
	key=${key//[ _-]/}
	case $key in
	ZCU104) printf zcu104 ;;
	ZCU102) printf zcu102 ;;
	ULTRA96 | ULTRA96V1 | ULTRA96V2) printf ultra96 ;; # Avnet's PYNQ images say Ultra96 for both
	*) return 1 ;;
	esac
}

sha256_of() {
	local sum
	sum=$(sha256sum -- "$1") || die "cannot read $1"
	printf '%s' "${sum%% *}"
}

# checksum_for SUMS NAME: the sha256 recorded for NAME in a `sha256sum` output file.
checksum_for() {
	local sums=$1 name=$2 sum fname
	while read -r sum fname _ || [[ -n ${sum:-} ]]; do
		fname=${fname#\*}
		if [[ ${fname##*/} == "$name" && $sum =~ ^[0-9a-fA-F]{64}$ ]]; then
			printf '%s' "${sum,,}"
			return 0
		fi
	done <"$sums"
	return 1
}

# What the target interpreter reports (one key=value per line): its install location, its
# version, the edge-dnn installed in that location (not a copy elsewhere on sys.path, such as a
# parent environment's, or an in-tree edge_dnn.egg-info when run from the checkout) and the
# setuptools a build without isolation would use.
readonly PROBE='
import importlib.metadata as md, os, sys, sysconfig
purelib = sysconfig.get_paths()["purelib"]
path = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
def version(name, where):
    for d in md.distributions(name=name, path=where):
        return d.version or ""
    return ""
print("purelib=" + purelib)
print("python=%d.%d" % sys.version_info[:2])
print("installed=" + version("edge-dnn", [purelib]))
print("setuptools=" + version("setuptools", path))
'
PURELIB=""
PYVER=""
INSTALLED=""
SETUPTOOLS=""

probe_python() {
	local out line
	out=$("$PY" -I -c "$PROBE") || die "cannot run the Python interpreter $PY"
	PURELIB="" PYVER="" INSTALLED="" SETUPTOOLS=""
	while IFS= read -r line; do
		case $line in
		purelib=*) PURELIB=${line#purelib=} ;;
		python=*) PYVER=${line#python=} ;;
		installed=*) INSTALLED=${line#installed=} ;;
		setuptools=*) SETUPTOOLS=${line#setuptools=} ;;
		esac
	done <<<"$out"
	[[ -n $PURELIB && $PYVER =~ ^([0-9]+)\.([0-9]+)$ ]] || die "$PY did not report its site-packages folder"
	if ((BASH_REMATCH[1] != 3 || BASH_REMATCH[2] < 10)); then
		die "$PY is Python $PYVER; edge-dnn needs Python >= 3.10"
	fi
}

# A digest of everything an install depends on, so that an unchanged source is not reinstalled.
source_fingerprint() {
	local -a parts=()
	local p digest
	if [[ -n $WHEEL ]]; then
		printf 'wheel %s' "$(sha256_of "$WHEEL")"
		return
	fi
	if ((EDITABLE)); then
		# The code is imported from $SRC; only the metadata (entry points, dependencies) is copied.
		printf 'editable %s %s' "$SRC" "$(sha256_of "$SRC/pyproject.toml")"
		return
	fi
	for p in pyproject.toml README.md LICENSE edge_dnn arm_scheduler vision_pipeline overlays notebooks; do
		if [[ -e $SRC/$p ]]; then parts+=("$p"); fi
	done
	# overlays/*/build holds the Vivado build (gigabytes of products, none of them installed).
	digest=$(cd "$SRC" && find "${parts[@]}" \( -name __pycache__ -o -name '*.egg-info' \
		-o -path 'overlays/*/build' \) -prune \
		-o -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum)
	printf 'tree %s' "${digest%% *}"
}

write_stamp() { printf '%s\n' "$STAMP_TEXT" >"$1"; }

# ---------------------------------------------------------------------------------- steps
INSTALL_PENDING=0
STAMP_TEXT=""

install_package() {
	local stamp=$PURELIB/$STAMP_NAME what target major
	local -a pip=("$PY" -m pip install --disable-pip-version-check)
	if [[ -n $WHEEL ]]; then
		what="edge-dnn from $WHEEL"
	elif ((EDITABLE)); then
		what="edge-dnn from $SRC (editable)"
	else
		what="edge-dnn from $SRC"
	fi
	STAMP_TEXT=$(printf '%s\n' \
		"edge-dnn install stamp written by board_setup.sh (delete it to force a reinstall)" \
		"mode=$MODE" "extras=$EXTRAS" "no_deps=$NO_DEPS" "source=$(source_fingerprint)")
	if [[ -n $INSTALLED && -f $stamp && "$(<"$stamp")" == "$STAMP_TEXT" ]]; then
		ok "edge-dnn $INSTALLED is installed in $PURELIB, from this source (stamp $stamp)"
		return
	fi
	INSTALL_PENDING=1
	if ((!DRY_RUN)) && [[ ! -w $PURELIB ]]; then
		die "cannot write to $PURELIB: run as its owner (on a PYNQ board: sudo $0 ...)"
	fi
	if [[ -z $WHEEL ]] && ((!BUILD_ISOLATION)); then
		major=${SETUPTOOLS%%.*}
		if [[ ! $major =~ ^[0-9]+$ ]] || ((major < MIN_SETUPTOOLS_MAJOR)); then
			die "building edge-dnn without build isolation needs setuptools >= $MIN_SETUPTOOLS_MAJOR" \
				"in $PY's environment (found: ${SETUPTOOLS:-none}). Build a wheel elsewhere" \
				"(pip wheel --no-deps -w dist $SRC) and pass --wheel, upgrade setuptools there," \
				"or pass --build-isolation to let pip fetch it"
		fi
	fi
	((NO_DEPS)) && pip+=(--no-deps)
	((BUILD_ISOLATION)) || pip+=(--no-build-isolation)
	if [[ -n $WHEEL ]]; then
		# pip keeps an installed wheel of the same version; the stamp says this one differs.
		act "install $what into $PURELIB" "${pip[@]}" --force-reinstall --no-deps "$WHEEL"
		if ((!NO_DEPS)); then
			act "install the dependencies of edge-dnn" "${pip[@]}" "$WHEEL${EXTRAS:+[$EXTRAS]}"
		fi
	else
		target=$SRC${EXTRAS:+[$EXTRAS]}
		if ((EDITABLE)); then
			act "install $what into $PURELIB" "${pip[@]}" -e "$target"
		else
			act "install $what into $PURELIB" "${pip[@]}" "$target"
		fi
	fi
	if ((!DRY_RUN)); then
		probe_python
		[[ -n $INSTALLED ]] || die "pip finished but edge-dnn is not installed in $PURELIB"
	fi
	act "record the install in $stamp" write_stamp "$stamp"
}

OVERLAY=""
OVERLAY_SRC=""

check_overlay_sources() {
	local base=edge_dnn_$OVERLAY f expected actual
	local -a missing=()
	((NO_OVERLAY)) && return 0
	# Default: the output folder of the generated Vivado build (edge_dnn.overlay.build.output_dir),
	# whose Makefile also writes the .sha256 once the .bit and .hwh exist.
	OVERLAY_SRC=${OVERLAY_DIR:-$SRC/overlays/$OVERLAY/build/out}
	for f in "$base.bit" "$base.hwh" "$base.sha256"; do
		[[ -f $OVERLAY_SRC/$f ]] || missing+=("$f")
	done
	if ((${#missing[@]})); then
		die "overlay files missing in $OVERLAY_SRC: ${missing[*]}. Build the $OVERLAY overlay" \
			"(make -C overlays/$OVERLAY/build writes all three to overlays/$OVERLAY/build/out)" \
			"or pass the folder you copied them to with --overlay-dir DIR (the .sha256 file is" \
			"\`sha256sum $base.bit $base.hwh\`), or pass --no-overlay to run on the emulator only"
	fi
	for f in "$base.bit" "$base.hwh"; do
		expected=$(checksum_for "$OVERLAY_SRC/$base.sha256" "$f") ||
			die "$OVERLAY_SRC/$base.sha256 has no sha256 line for $f"
		actual=$(sha256_of "$OVERLAY_SRC/$f")
		[[ $actual == "$expected" ]] ||
			die "checksum mismatch for $OVERLAY_SRC/$f: sha256 $actual, $base.sha256 says" \
				"$expected (corrupt copy, or a stale .sha256)"
	done
	ok "overlay files $base.bit and $base.hwh in $OVERLAY_SRC match $base.sha256"
}

place_overlay() {
	local base=edge_dnn_$OVERLAY dest f
	if ((NO_OVERLAY)); then
		ok "overlay files not placed (--no-overlay): edge-dnn runs on the emulated board only"
		return
	fi
	if ((!DRY_RUN)) && [[ ! -d $PURELIB/edge_dnn/overlay ]]; then
		die "$PURELIB/edge_dnn/overlay does not exist: edge-dnn is not installed there"
	fi
	# Beside the packaged overlay.toml, so that the runtime finds configuration and bitstream
	# together; pip leaves these extra files alone when it upgrades the package.
	dest=$PURELIB/edge_dnn/overlay/_data/$OVERLAY
	for f in "$base.bit" "$base.hwh" "$base.sha256"; do
		if [[ -f $dest/$f ]] && cmp -s "$OVERLAY_SRC/$f" "$dest/$f"; then
			ok "$dest/$f is up to date"
		else
			act "place overlay file $f" install -D -m 0644 "$OVERLAY_SRC/$f" "$dest/$f"
		fi
	done
	if ((!DRY_RUN)); then
		for f in "$base.bit" "$base.hwh"; do
			[[ $(sha256_of "$dest/$f") == "$(checksum_for "$dest/$base.sha256" "$f")" ]] ||
				die "checksum mismatch for $dest/$f after copying it"
		done
	fi
}

check_cma() {
	local meminfo=$ROOT/proc/meminfo kb mib
	if [[ ! -r $meminfo ]]; then
		warn "cannot read $meminfo: contiguous memory (CMA) size not checked"
		return
	fi
	kb=$(awk '$1 == "CmaTotal:" { print $2; exit }' "$meminfo")
	if [[ ! $kb =~ ^[0-9]+$ ]]; then
		warn "$meminfo has no CmaTotal line: this kernel has no contiguous memory (CMA) pool," \
			"which pynq.allocate needs ($MIN_CMA_MIB MiB or more for edge-dnn)"
		return
	fi
	mib=$((kb / 1024))
	if ((mib < MIN_CMA_MIB)); then
		warn "contiguous memory (CMA) pool is only $mib MiB ($meminfo CmaTotal), below the" \
			"$MIN_CMA_MIB MiB edge-dnn needs for its DMA buffers: allocations will fail." \
			"Add cma=${MIN_CMA_MIB}M (or more) to the kernel command line (bootargs) and reboot"
	else
		ok "contiguous memory (CMA) pool: $mib MiB >= $MIN_CMA_MIB MiB"
	fi
}

deliver_notebooks() {
	local nb_root src_dir dest f d owner pynq_cli
	local -a nbs=() changed=()
	local need=0
	if [[ -n $NB_DIR_OPT ]]; then
		nb_root=$NB_DIR_OPT
	else
		nb_root=${PYNQ_JUPYTER_NOTEBOOKS:-$(env_file_value "$ROOT/etc/environment" PYNQ_JUPYTER_NOTEBOOKS)}
		nb_root=$ROOT${nb_root:-/home/xilinx/jupyter_notebooks}
	fi
	dest=$nb_root/$NB_ENTRY
	if ((INSTALL_PENDING && DRY_RUN)); then
		if [[ -n $WHEEL ]]; then
			act "deliver the notebooks of the installed package to $dest" \
				"$PYNQ_VENV/bin/pynq" get-notebooks "$NB_ENTRY" -p "$nb_root" -o -f
			return
		fi
		src_dir=$SRC/notebooks # what the pending install will put in the package
	else
		src_dir=$PURELIB/edge_dnn/notebooks
	fi
	for f in "$src_dir"/*.ipynb; do
		if [[ -f $f ]]; then nbs+=("$f"); fi
	done
	if ((${#nbs[@]} == 0)); then
		ok "no notebooks in $src_dir: nothing to deliver"
		return
	fi
	for f in "${nbs[@]}"; do
		d=$dest/${f##*/}
		if [[ ! -f $d ]]; then
			need=1
		elif ! cmp -s "$f" "$d"; then
			need=1
			changed+=("$d")
		fi
	done
	if ((!need)); then
		ok "notebooks in $dest are up to date"
	elif ((${#changed[@]} && !FORCE_NB)); then
		warn "not delivering the notebooks: ${changed[*]} differ from the package's (edited, or" \
			"from another edge-dnn version); pass --force-notebooks to overwrite them"
		return
	else
		pynq_cli=$PYNQ_VENV/bin/pynq
		[[ -x $pynq_cli ]] || die "$pynq_cli not found: cannot run pynq get-notebooks"
		# -o: edge-dnn notebooks need no per-board overlay resolution. -f: we checked above that
		# nothing edited is overwritten, and pynq skips an already-listed package without it.
		act "deliver the notebooks to $dest" "$pynq_cli" get-notebooks "$NB_ENTRY" -p "$nb_root" -o -f
		if ((!DRY_RUN)); then
			for f in "${nbs[@]}"; do
				cmp -s "$f" "$dest/${f##*/}" || die "pynq get-notebooks did not deliver $dest/${f##*/}"
			done
		fi
	fi
	# Running as root (sudo) would leave root-owned notebooks the Jupyter user cannot save.
	if ((EUID == 0)) && [[ -d $nb_root ]]; then
		owner=$(stat -c %u:%g "$nb_root")
		if [[ $owner != 0:0 ]] && { [[ ! -d $dest ]] ||
			[[ -n $(find "$dest" \( ! -uid "${owner%:*}" -o ! -gid "${owner#*:}" \) -print -quit) ]]; }; then
			act "give the notebooks to the owner of $nb_root" chown -R "$owner" "$dest"
		fi
	fi
}

# ------------------------------------------------------------------------------------ main
if [[ $MODE == board ]]; then
	PY=$PYNQ_VENV/bin/python3
	[[ -x $PY ]] || die "PYNQ board, but no PYNQ virtual environment at $PYNQ_VENV" \
		"(PYNQ >= 3.0 images have one; pass --pynq-venv DIR)"
	board_name="" board_from=""
	if [[ -n $BOARD_OPT ]]; then
		board_name=$BOARD_OPT board_from=--board
	elif [[ -n ${BOARD:-} && ${BOARD:-} != Unknown ]]; then
		board_name=$BOARD board_from=\$BOARD
	else
		board_name=$(env_file_value "$ROOT/etc/environment" BOARD)
		board_from=$ROOT/etc/environment
		if [[ -z $board_name || $board_name == Unknown ]] && [[ -r $DT_BOARD_NODE ]]; then
			board_name=$(tr -d '\000' <"$DT_BOARD_NODE")
			board_from=$DT_BOARD_NODE
		fi
	fi
	[[ -n $board_name && $board_name != Unknown ]] ||
		die "cannot tell which board this is: no --board, no \$BOARD, no BOARD= in" \
			"$ROOT/etc/environment, no $DT_BOARD_NODE. Pass --board NAME"
	OVERLAY=$(overlay_for_board "$board_name") ||
		die "unsupported board '$board_name' (from $board_from): edge-dnn has overlays for" \
			"ZCU104 (zcu104), ZCU102 (zcu102) and Ultra96 V1/V2 (ultra96)"
	probe_python
	printf 'edge-dnn setup on PYNQ board %s (from %s): overlay %s, Python %s %s\n' \
		"$board_name" "$board_from" "$OVERLAY" "$PYVER" "$PY"
	check_cma
	check_overlay_sources
	install_package
	place_overlay
	deliver_notebooks
else
	if [[ -n $PYTHON_OPT ]]; then
		PY=$PYTHON_OPT
	elif [[ -n ${VIRTUAL_ENV:-} && -x $VIRTUAL_ENV/bin/python ]]; then
		PY=$VIRTUAL_ENV/bin/python
	else
		PY=$(command -v python3) || die "no python3 on PATH: pass --python PY"
	fi
	probe_python
	printf 'edge-dnn setup on a host (the board is emulated): Python %s %s\n' "$PYVER" "$PY"
	install_package
fi
if ((CHANGES == 0)); then
	echo "nothing to do: edge-dnn is set up"
elif ((DRY_RUN)); then
	echo "[dry-run] $CHANGES action(s) would be performed; nothing was changed"
else
	echo "done: $CHANGES action(s) performed"
fi
