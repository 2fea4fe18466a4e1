# shellcheck shell=bash
# Python helpers shared by bench/run and plugins/peak-picking/tests/fixtures/record_msmint.sh.
# Source it; it defines functions only and changes no shell options.
#
#   find_python            prints a Python >= 3.12 ($PYTHON, then pyenv's 3.12*, 3.13+, then PATH)
#   ensure_venv DIR REQ... creates DIR with that Python unless it already holds a 3.12+ one, and
#                          pip-installs the requirements (NAME[extras]==VERSION, or a bare NAME)
#                          unless each is installed already (at that VERSION, if one is given)
#
# Both print progress on stderr and return non-zero with a message saying what is missing.

# True if "$1" is a Python interpreter of version >= 3.12.
is_py312plus() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null
}

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        if is_py312plus "$PYTHON"; then echo "$PYTHON"; return 0; fi
        echo "PYTHON=$PYTHON is not Python >= 3.12" >&2
        return 1
    fi
    local cand
    # Prefer 3.12, then any newer version found under pyenv, then PATH.
    for cand in /root/.pyenv/versions/3.12*/bin/python3 \
                $(ls -d /root/.pyenv/versions/3.1[3-9]*/bin/python3 2>/dev/null) \
                "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
                "$(command -v python3.12 || true)" "$(command -v python3.13 || true)" \
                "$(command -v python3 || true)"; do
        [[ -n "$cand" && -x "$cand" ]] && is_py312plus "$cand" && { echo "$cand"; return 0; }
    done
    echo "no Python >= 3.12 found (looked in pyenv's versions 3.12+, python3.12, python3.13 and python3 on PATH); set PYTHON=/path/to/python3.12" >&2
    return 1
}

ensure_venv() {
    local venv="$1"; shift
    if [[ ! -x "$venv/bin/python" ]] || ! is_py312plus "$venv/bin/python"; then
        local py
        py="$(find_python)" || return 1
        echo "creating venv $venv with $py ($("$py" --version 2>&1))" >&2
        mkdir -p "$(dirname "$venv")"
        rm -rf "$venv"
        "$py" -m venv "$venv" || { echo "could not create a venv at $venv with $py" >&2; return 1; }
    fi
    # Cheap check first: importlib.metadata names every installed distribution and version.
    if "$venv/bin/python" - "$@" <<'PY' 2>/dev/null; then return 0; fi
import sys
from importlib.metadata import version
for req in sys.argv[1:]:
    name, _, want = req.partition("==")
    have = version(name.split("[")[0])  # raises when not installed
    if want and have != want:
        sys.exit(1)
PY
    echo "installing into $venv: $*" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2 \
        || echo "warning: could not upgrade pip in $venv, continuing" >&2
    "$venv/bin/python" -m pip install --quiet "$@" >&2 \
        || { echo "pip install $* failed (is PyPI reachable?)" >&2; return 1; }
}
