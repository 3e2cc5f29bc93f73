#!/bin/bash
# Runs INSIDE the mim3d image (as its non-root user), called by container/test.sh:
# the CLI, a tiny simulate -> fit-normalizer -> train -> predict round trip, one notebook under
# papermill (SMOKE, through the workbook Makefile), an offscreen VTK render, and bad input.
# /readonly is a folder bound read-only (the "unwritable output folder" case).
set -euo pipefail
t0=$SECONDS
step() { echo "== [$((SECONDS - t0)) s] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "whoami: $(id -un) (uid $(id -u))"
[ "$(id -u)" != 0 ] || fail "the image runs as root"

step "mim3d --help"
mim3d --help | tee /tmp/help.txt | head -3
grep -q simulate /tmp/help.txt || fail "mim3d --help does not list simulate"

step "simulate -> fit-normalizer -> train -> predict"
cd /tmp
mim3d simulate --n 2 --grid 8 --n-snapshots 6 --out /tmp/d --quiet
mim3d fit-normalizer /tmp/d
sed 's#path: data/smoke#path: /tmp/d#' $(python -c "import importlib.util as u, os; print(os.path.dirname(u.find_spec('mim3d').origin))")/presets/smoke.yaml > /tmp/smoke.yaml
grep -q 'path: /tmp/d' /tmp/smoke.yaml || fail "could not point the smoke preset at /tmp/d"
mim3d train --config /tmp/smoke.yaml --out /tmp/r --quiet
[ -s /tmp/r/model.keras ] || fail "train wrote no model"
python -c "import numpy as np; np.save('/tmp/x.npy', np.random.default_rng(0).random((6, 4, 4, 4, 1), dtype='float32'))"
mim3d predict --model /tmp/r/model.keras --input /tmp/x.npy --input-length 3 --output /tmp/p.npy 2>/dev/null
python -c "
import numpy as np
p = np.load('/tmp/p.npy')
assert p.shape == (5, 4, 4, 4, 1) and np.isfinite(p).all(), (p.shape, np.isfinite(p).all())
print('forecast', p.shape, 'finite')"

step "offscreen VTK render (EGL)"
python - <<'PY'
import mim3d  # noqa: F401  (before TensorFlow/VTK, as in the notebooks)
import numpy as np
import pyvista as pv
pl = pv.Plotter(off_screen=True, window_size=(64, 64))
pl.add_mesh(pv.Sphere(), color="red")
img = pl.screenshot(return_img=True)
pl.close()
assert img.std() > 0, "blank render"
print("render", img.shape, "std", round(float(img.std()), 1))
PY

step "notebook 01_data under papermill, SMOKE, via the workbook Makefile in a workspace"
mim3d-workspace /tmp/ws
cd /tmp/ws
make SMOKE=1 NB_TIMEOUT=600 build/smoke/notebooks/01_data.ipynb
[ -s build/smoke/notebooks/01_data.ipynb ] || fail "no executed notebook"
ls build/smoke/figures | grep -q . || fail "the notebook wrote no figure"
cd /tmp

# bad input: one line on stderr, exit status 2, no traceback
expect_error() {  # expect_error <pattern> <command...>
    local pattern=$1; shift
    set +e; "$@" >/tmp/out.txt 2>/tmp/err.txt; local rc=$?; set -e
    grep -v -e '^$' /tmp/err.txt | grep -v -i 'warning' > /tmp/err1.txt || true
    echo "   \$ ${*}  -> exit $rc: $(cat /tmp/err1.txt)"
    [ "$rc" = 2 ] || fail "expected exit status 2, got $rc"
    [ "$(wc -l < /tmp/err1.txt)" = 1 ] || fail "expected one error line, got: $(cat /tmp/err.txt)"
    ! grep -q Traceback /tmp/err.txt || fail "traceback"
    grep -q -- "$pattern" /tmp/err1.txt || fail "message does not say '$pattern'"
}
step "bad input"
expect_error "does not exist" mim3d fit-normalizer /data
sed 's#path: /tmp/d#path: /data#' /tmp/smoke.yaml > /tmp/missing.yaml
expect_error "/data" mim3d train --config /tmp/missing.yaml --out /tmp/r2 --quiet
expect_error "not writable\|ermission denied\|Read-only file system" \
    mim3d train --config /tmp/smoke.yaml --out /readonly/run --quiet
expect_error "ermission denied" \
    mim3d predict --model /tmp/r/model.keras --input /tmp/x.npy --input-length 3 --output /readonly/p.npy
expect_error "ermission denied" \
    mim3d train --config /tmp/smoke.yaml --out /opt/run --quiet
step "all checks passed"
