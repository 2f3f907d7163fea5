#!/usr/bin/env bash
# Create or reuse the Python 3.10 virtual environment of the full stack (Lava included), give this
# checkout a thin venv on top of it with the checkout installed (editable, no deps), and print
# that venv's python on stdout.
#
# The venv lives outside the clone, keyed by a hash of requirements/py310-lock.txt, so every
# clone, CI run and session on this machine reuses it: the first run takes ~4 minutes, later ones
# seconds. Override the location with NEURODEPLOY_VENV_ROOT, the interpreter with
# NEURODEPLOY_PYTHON. Progress goes to stderr.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$root/requirements/py310-lock.txt"
log() { echo "[neurodeploy env] $*" >&2; }

find_python310() {
  local cand
  if [ -n "${NEURODEPLOY_PYTHON:-}" ]; then echo "$NEURODEPLOY_PYTHON"; return 0; fi
  if command -v pyenv >/dev/null 2>&1 || [ -d "${PYENV_ROOT:-$HOME/.pyenv}" ]; then
    local proot
    proot=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for cand in "$proot"/versions/3.10.*/bin/python; do
      if [ -x "$cand" ] && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
        echo "$cand"; return 0
      fi
    done
  fi
  for cand in python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}

py=$(find_python310) || {
  echo "neurodeploy: Python 3.10 not found (Lava supports only 3.10). Install it, e.g. 'pyenv install 3.10.13' or your distribution's python3.10 package, or set NEURODEPLOY_PYTHON=/path/to/python3.10" >&2
  exit 1
}

hash=$(cat "$lock" | sha256sum | cut -c1-12)
venv_root=${NEURODEPLOY_VENV_ROOT:-$HOME/.cache/neurodeploy}
venv="$venv_root/venv-py310-$hash"
mkdir -p "$venv_root"

# pip, quiet, without the warnings about package-index folders this machine's config names
quiet_pip() {
  "$venv/bin/python" -m pip -q "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

exec 9>"$venv_root/.lock-$hash"
flock 9
if [ ! -f "$venv/.complete" ]; then
  log "creating $venv with $py (one-time, ~4 minutes)"
  rm -rf "$venv"
  "$py" -m venv "$venv"
  quiet_pip install --upgrade pip 'setuptools>=69' wheel
  quiet_pip install --progress-bar off -r "$lock"
  touch "$venv/.complete"
fi

flock -u 9

# This checkout gets its own thin venv (.venv in the clone, no packages of its own) that sees the
# shared venv's packages through a .pth file and has only this checkout installed (editable), so
# several clones on one machine (CI, sessions) never repoint each other's install.
overlay="$root/.venv"
shared_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if [ ! -x "$overlay/bin/python" ] || [ "$(cat "$overlay/.shared-venv" 2>/dev/null)" != "$venv" ]; then
  log "creating $overlay on top of $venv"
  rm -rf "$overlay"
  "$py" -m venv --without-pip "$overlay"
  site=$("$overlay/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  # addsitedir also runs the shared venv's own .pth files; named to sort after __editable__*
  echo "import site; site.addsitedir('$shared_site')" > "$site/zz-neurodeploy-shared.pth"
  echo "$venv" > "$overlay/.shared-venv"
  rm -f "$overlay/.neurodeploy-checkout"
fi
stamp="$root|$(sha256sum "$root/pyproject.toml" | cut -c1-12)"
if [ "$(cat "$overlay/.neurodeploy-checkout" 2>/dev/null)" != "$stamp" ]; then
  log "installing $root into $overlay (editable)"
  pip_log=$(mktemp)
  "$overlay/bin/python" -m pip -q install --no-deps --no-build-isolation -e "$root" >"$pip_log" 2>&1 \
    || { cat "$pip_log" >&2; rm -f "$pip_log"; exit 1; }
  rm -f "$pip_log"
  echo "$stamp" > "$overlay/.neurodeploy-checkout"
fi
# The HTML report's rendering test needs a headless Chromium (Debian package). Install it once
# where we may (root with apt-get, as on CI machines); elsewhere that one test skips, saying why.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
   && ! command -v google-chrome >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
   && command -v apt-get >/dev/null 2>&1 && [ -z "${NEURODEPLOY_NO_CHROMIUM:-}" ]; then
  log "installing chromium for the HTML report test (one-time, ~2 minutes; NEURODEPLOY_NO_CHROMIUM=1 skips)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    >/dev/null 2>&1 || log "could not install chromium; the HTML rendering test will skip"
fi
echo "$overlay/bin/python"
