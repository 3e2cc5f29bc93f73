#!/bin/sh
# mim3d-workspace DIR: make DIR (a bound, writable folder) a place to run the workbook:
# copies the Makefile and notebooks, links the installed package and the image's environment.
# Then: cd DIR && make figures   (data/, runs/, figures/ and build/ are written in DIR).
set -eu
dir=${1:-.}
src=/opt/mim3d/workbook
# the installed package (its pretrained run is the Makefile's default PRETRAINED=mim3d/pretrained/demo)
pkg=$(cd / && python -c "import importlib.util as u, os; print(os.path.dirname(u.find_spec('mim3d').origin))")
mkdir -p "$dir" || { echo "mim3d-workspace: cannot create $dir; bind a writable folder" >&2; exit 2; }
[ -w "$dir" ] || { echo "mim3d-workspace: $dir is not writable; bind a writable folder" >&2; exit 2; }
cd "$dir"
[ -e Makefile ] || cp -p "$src/Makefile" Makefile
[ -e pyproject.toml ] || cp -p "$src/pyproject.toml" pyproject.toml
[ -e notebooks ] || cp -rp "$src/notebooks" notebooks
[ -e mim3d ] || ln -s "$pkg" mim3d
[ -e .venv ] || ln -s /opt/mim3d/venv .venv
echo "workspace ready in $(pwd): make figures (SMOKE=1 for the tiny run), make lab"
