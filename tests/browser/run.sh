#!/usr/bin/env bash
# Real-browser test of the explorer (make test-browser; not part of CI): JupyterLab on loopback,
# Debian's chromium driven headless by playwright-core, runs notebooks/04_explore.ipynb in SMOKE
# mode, moves the slice slider and checks that the picture changed.
# Needs: apt-get install -y chromium; npm (playwright-core is installed into build/browser/).
# Work folder: build/browser/ (SMOKE data, a trained SMOKE run, screenshots, the server log).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
WORK=build/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PLAYWRIGHT_VERSION=${PLAYWRIGHT_VERSION:-1.65.2}
mkdir -p "$WORK"
WORK_ABS=$(cd "$WORK" && pwd)

if [ ! -x "$CHROMIUM" ]; then
  echo "test-browser: $CHROMIUM not found; install Debian's chromium (apt-get install -y chromium)" >&2
  exit 2
fi
if [ ! -d "$WORK/node_modules/playwright-core" ]; then
  echo "test-browser: installing playwright-core@$PLAYWRIGHT_VERSION into $WORK/"
  npm install --silent --no-audit --no-fund --prefix "$WORK" "playwright-core@$PLAYWRIGHT_VERSION"
fi

# a trained SMOKE run for the explorer (made once, reused)
P="-p SMOKE True -p DATA_DIR $WORK_ABS/data -p RUN_DIR $WORK_ABS/run -p FIG_DIR $WORK_ABS/figures -p EVAL_DIR $WORK_ABS/evaluation"
if [ ! -f "$WORK/run/model.keras" ]; then
  echo "test-browser: preparing SMOKE data and a trained SMOKE run (once, about 2 minutes)"
  for nb in 01_data 02_training; do
    "$VENV/bin/papermill" --execution-timeout 600 -k python3 --no-progress-bar \
      "notebooks/$nb.ipynb" "$WORK/$nb.out.ipynb" $P
  done
fi
# the notebook under test, its parameters set (not executed: the browser runs it)
"$VENV/bin/papermill" --prepare-only -k python3 notebooks/04_explore.ipynb "$WORK/04_explore.ipynb" $P

PORT=$("$VENV/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
TOKEN=$("$VENV/bin/python" -c "import secrets; print(secrets.token_hex(16))")
ROOT_FLAG=""
[ "$(id -u)" = 0 ] && ROOT_FLAG="--allow-root"
"$VENV/bin/jupyter" lab --ip=127.0.0.1 --port="$PORT" --no-browser $ROOT_FLAG \
  --ServerApp.root_dir="$WORK_ABS" --IdentityProvider.token="$TOKEN" \
  --LabApp.expose_app_in_browser=True --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
  > "$WORK/jupyterlab.log" 2>&1 &
LAB_PID=$!
trap 'kill "$LAB_PID" 2>/dev/null || true; wait "$LAB_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/api/status?token=$TOKEN" > /dev/null && break
  kill -0 "$LAB_PID" 2>/dev/null || { cat "$WORK/jupyterlab.log" >&2; exit 1; }
  sleep 0.5
done

START=$(date +%s)
CHROMIUM="$CHROMIUM" OUT="$WORK_ABS" PLAYWRIGHT="$WORK_ABS/node_modules/playwright-core" \
  URL="http://127.0.0.1:$PORT/lab/tree/04_explore.ipynb?token=$TOKEN" \
  node tests/browser/explore.cjs
echo "test-browser: passed in $(( $(date +%s) - START )) s (browser part); screenshots in $WORK/"
