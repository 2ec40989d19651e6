#!/usr/bin/env bash
# Creates or reuses the virtualenv and installs the project with its test extra,
# again only when pyproject.toml changed. Says each step and lets pip show its progress: the
# first install (Prefect, Streamlit and the rest) takes about two minutes, too long for silence.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [[ ! -x $VENV/bin/python ]]; then
  echo "== making the virtualenv $VENV (the first install takes about two minutes)" >&2
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ ! -f $stamp ]]; then
  echo "== upgrading pip in $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  echo "== installing healthmon and its dependencies into $VENV (about two minutes the first time)" >&2
  "$VENV/bin/python" -m pip install --progress-bar on -e '.[test]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
  echo "== installed" >&2
fi
