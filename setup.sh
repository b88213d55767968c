#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with Flowscope installed (editable).
#   ./setup.sh          what `flowscope tour` needs
#   ./setup.sh --test   plus the test tools and Debian's chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

# chromium: the browser the benchmarks time pages in; its headless shell: the tests' browser
if [[ "${1:-}" == "--test" ]] && ! { command -v chromium && command -v chromium-headless-shell; } >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium and its headless shell for the browser tests" >&2
  SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-headless-shell \
    fonts-dejavu-core >/dev/null
fi
# a CJK font, so that the pages' Chinese (zh-CN) checks and screenshots show characters
if [[ "${1:-}" == "--test" ]] && command -v fc-list >/dev/null 2>&1 && [[ -z "$(fc-list :lang=zh)" ]]; then
  SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-wqy-microhei >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "setup: Flowscope needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
  "$PYTHON" -m venv .venv
fi

extras=$([[ "${1:-}" == "--test" ]] && echo "[test]" || echo "")
stamp=".venv/.flowscope-installed${extras}"
if [[ ! -f "$stamp" || setup.py -nt "$stamp" ]]; then
  echo "setup: installing Flowscope${extras} into .venv (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi

# The PyTorch tests (tests/test_torch.py) use the CPU wheel, pinned with its +cpu label:
# PyPI's plain `torch` is a multi-GB CUDA build, so where no local index offers the CPU
# wheel, pip fails instead (set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu).
# Kept out of setup.py: Flowscope never needs torch.
if [[ "${1:-}" == "--test" ]] \
  && ! .venv/bin/python -c 'import importlib.metadata as m, sys; sys.exit(m.version("torch") != "2.13.0+cpu")' 2>/dev/null; then
  echo "setup: installing the PyTorch CPU wheel (torch==2.13.0+cpu) for tests/test_torch.py" >&2
  .venv/bin/python -m pip install -q "torch==2.13.0+cpu"
fi

# SummaryCallback's tests on Keras's JAX backend (tests/test_backends.py) need JAX: the
# `[test]` extra lists jax[cpu] (jaxlib's CPU build; CUDA comes only with jax[cuda*]);
# installed here too when the extra's install was skipped (an older .venv). Never at run
# time: Flowscope needs neither JAX nor PyTorch.
if [[ "${1:-}" == "--test" ]] && ! .venv/bin/python -c 'import jax' 2>/dev/null; then
  echo "setup: installing JAX's CPU build (jax[cpu]) for tests/test_backends.py" >&2
  .venv/bin/python -m pip install -q "jax[cpu]>=0.4.30"
fi
