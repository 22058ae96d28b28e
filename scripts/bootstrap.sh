#!/usr/bin/env bash
# Set up everything `publish` needs on a Debian 12 machine.
#
#   scripts/bootstrap.sh runtime   system libraries + .venv with `pip install -e .`
#   scripts/bootstrap.sh dev       the above + dev extras, validator tools
#                                  (poppler-utils, qpdf, chromium, mupdf-tools,
#                                  calibre) and DAISY Ace
#
# Idempotent and quick when nothing changed: Debian packages are checked with
# `dpkg -s`, and the Python and npm installs are redone only when the stamp
# (the sha256 of pyproject.toml, resp. package.json + package-lock.json)
# no longer matches.  Called by the Makefile; safe to run by hand.
set -euo pipefail

mode="${1:-runtime}"
case "$mode" in
    runtime|dev) ;;
    *) echo "usage: $0 runtime|dev" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
ACE_DIR="$ROOT/tools/ace"

log() { printf 'setting up: %s\n' "$*" >&2; }
die() { printf 'setting up: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages --------------------------------------------------------
# WeasyPrint loads Pango and HarfBuzz (its subsetter too) through ctypes/cffi.
runtime_debs=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig)
# Validators used by the tests: pdffonts/pdfinfo, qpdf, Chromium for Ace and
# Playwright, a JRE for EPUBCheck; the locale sources the reproducibility test
# compiles a Turkish locale from (localedef, into a folder of its own); zbarimg
# to read the covers' barcodes back; MuPDF (mutool) and calibre (ebook-convert,
# ebook-meta), the reading systems tests/test_reading_systems.py opens the EPUB in.
dev_debs=(poppler-utils qpdf chromium locales zbar-tools mupdf-tools calibre)

debs=("${runtime_debs[@]}")
if [[ "$mode" == dev ]]; then
    debs+=("${dev_debs[@]}")
    command -v java >/dev/null 2>&1 || debs+=(default-jre-headless)
fi
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    debs+=(python3-venv)
fi

missing=()
for pkg in "${debs[@]}"; do
    # "install ok installed" is the only state that counts as present.
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
    SUDO=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "need root (or sudo) to install: ${missing[*]}"
        SUDO=(sudo)
    fi
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- Python virtual environment ---------------------------------------------
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating virtual environment in .venv"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

py_key="$(hash_of pyproject.toml)"
# A dev install covers the runtime one, so `make book` after `make test`
# does not reinstall.
py_stamp_dev="$VENV/.bootstrap-dev"
py_stamp_runtime="$VENV/.bootstrap-runtime"
if [[ "$mode" == dev ]]; then
    want_stamps=("$py_stamp_dev")
else
    want_stamps=("$py_stamp_runtime" "$py_stamp_dev")
fi
py_ok=no
for s in "${want_stamps[@]}"; do
    if [[ -f "$s" && "$(cat "$s")" == "$py_key" ]]; then py_ok=yes; fi
done

if [[ "$py_ok" == no ]]; then
    if [[ "$mode" == dev ]]; then
        log "installing Python packages (pip install -e '.[dev]')"
        spec='.[dev]'
    else
        log "installing Python packages (pip install -e .)"
        spec='.'
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" >&2
    echo "$py_key" > "$VENV/.bootstrap-$mode"
fi

[[ "$mode" == dev ]] || exit 0

# --- DAISY Ace (npm) --------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node (>= 20) is needed for DAISY Ace"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || die "DAISY Ace needs node >= 20 (found $(node --version))"

ace_files=("$ACE_DIR/package.json")
[[ -f "$ACE_DIR/package-lock.json" ]] && ace_files+=("$ACE_DIR/package-lock.json")
ace_key="$(hash_of "${ace_files[@]}")"
ace_stamp="$ACE_DIR/node_modules/.bootstrap-stamp"

if [[ ! -x "$ACE_DIR/node_modules/.bin/ace-puppeteer" || ! -f "$ace_stamp" \
      || "$(cat "$ace_stamp")" != "$ace_key" ]]; then
    log "installing DAISY Ace (npm in tools/ace)"
    # No browser download (Debian's Chromium is used) and no install scripts
    # (electron's would fetch a binary; Ace's puppeteer runner needs none).
    export PUPPETEER_SKIP_DOWNLOAD=1
    npm_flags=(--ignore-scripts --no-audit --no-fund --loglevel=error)
    if [[ -f "$ACE_DIR/package-lock.json" ]]; then
        (cd "$ACE_DIR" && npm ci "${npm_flags[@]}") >&2
    else
        (cd "$ACE_DIR" && npm install "${npm_flags[@]}") >&2
    fi
    echo "$ace_key" > "$ace_stamp"
fi
