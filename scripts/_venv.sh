# Sourced by scripts/serve and scripts/test: make ./.venv hold exactly what pyproject.toml pins.
# A second run reuses the venv and skips pip unless pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON_BIN="${PYTHON:-python3}"

ensure_venv() {  # $1: extras, e.g. "test" or ""
  local extras="$1" spec stamp want
  spec="$ROOT"; [ -n "$extras" ] && spec="$ROOT[$extras]"
  stamp="$VENV/.paperfeed-installed"
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) $extras"
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || ! grep -qxF "$want" "$stamp"; then
    echo "installing paperfeed${extras:+[$extras]} into $VENV ..." >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    if [[ "$extras" == *transformer* ]]; then
      # torch first and pinned: this machine kind has the CPU wheel on disk, while an
      # unpinned resolution can pull a multi-GB CUDA build.
      "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.13.0" >&2
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec" >&2
    echo "$want" >> "$stamp"
  fi
}
