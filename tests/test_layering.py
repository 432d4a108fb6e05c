"""The package's import graph: no circles, no import from a higher floor, imports at the top of modules.

Every module of ``cocogoat_utils`` is parsed (nothing is imported); an import of another package module is an
edge. The floors below are the package's shape, ground floor first (the README's package table and DESIGN.md
say the same). A module may import from its own floor or any floor below; a new module must be given a floor here.
Imports inside functions are allowed only where listed in ``LAZY``, each with its reason.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cocogoat_utils"

FLOORS = [
    # 0: the ground: seeds, devices, where outputs go; shipped files; the checkpoint format; the results table
    {"runtime", "bundled", "checkpoint", "report"},
    # 1: building blocks that know no dataset: layers, losses, noise schedules, augmentations, label stores
    {"layers", "losses", "diffusion", "augment", "labels"},
    # 2: one file per model family (and build_network)
    {"models"},
    # 3: image sets and what is drawn from them: loaders, the embedded glyphs, device batches, degradations, boxes,
    #    the selector's bookkeeping, noise tricks, pictures
    {"imageset", "openmoji", "data", "device_dataset", "degrade", "boxes", "selection", "latent", "viz"},
    # 4: the judge
    {"features", "metrics"},
    # 5: the loop and what plugs into it
    {"train"},
    # 6: shipped models (loading them) and the recipes that train them
    {"shipped", "pretrain"},
    # 7: a notebook's run: its set-up, equal-time comparisons and the verdict line, the shipped model beside it, small
    #    measurements, the scale table; studies; widgets; headless runs
    {"experiment", "comparison", "shipped_beside", "measures", "scales", "studies", "study", "widgets",
     "label_widgets", "execute"},
]

#: (module, imported name) → why it stays inside a function: optional or heavy dependencies, imported when used
LAZY = {
    ("execute", "papermill"): "an extra (dev): headless runs only",
    ("execute", "papermill.engines"): "an extra (dev): headless runs only",
    ("execute", "papermill.cli"): "an extra (dev): headless runs only",
    ("execute", "jupyter_client"): "an extra (dev): the patch is applied when a headless run starts",
    ("execute", "jupyter_client.channels"): "an extra (dev): the patch is applied when a headless run starts",
    ("label_widgets", "ipywidgets"): "widgets: imported when a labelling widget is shown (slow to import)",
    ("label_widgets", "jupyter_bbox_widget"): "an extra (labelling): only when boxes are drawn",
    ("widgets", "ipywidgets"): "widgets: imported when a slider is shown (slow to import)",
    ("train.callbacks", "torch.utils.tensorboard"): "an extra (tensorboard): only when a run logs to TensorBoard",
    ("features", "torchmetrics.image.fid"): "Inception-v3 needs the inception extra (torch-fidelity): only for that space",
}

#: modules being rewritten by other work: their imports inside functions are not checked yet. Remove a name once its
#: rewrite lands.
PENDING: set[str] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported package module or third-party name, is inside a function, line) for every import in ``path``."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text())
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside |= {id(child) for child in ast.walk(node) if child is not node}
    for node in ast.walk(tree):
        lazy = id(node) in inside
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:  # from . import x
                for alias in node.names:
                    yield ".".join(base + [alias.name]), lazy, node.lineno
            else:
                yield target, lazy, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, lazy, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, lazy, node.lineno


def _known(target: str, modules: set[str]) -> str | None:
    """The package module ``target`` names (``train.loop`` for ``train.loop``; ``models`` for ``models.dcgan`` when
    only the package is known), or ``None`` for a name outside the package."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def _graph():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules.pop("", None)
    graph, lazy = {m: set() for m in modules}, []
    for module, path in modules.items():
        for target, inside, line in _imports(path):
            if inside:
                lazy.append((module, target, line))
            if target.startswith("cocogoat_utils"):
                target = target.removeprefix("cocogoat_utils").lstrip(".")
            found = _known(target, set(modules)) if target else None
            if found is not None and found != module and not (found == "" or module.startswith(found + ".")):
                if not inside:
                    graph[module].add(found)
    return modules, graph, lazy


def _floor(module: str) -> int:
    top = module.split(".")[0]
    for level, names in enumerate(FLOORS):
        if top in names:
            return level
    raise AssertionError(f"{module} has no floor: add it to FLOORS in tests/test_layering.py (and the README)")


def test_every_module_has_a_floor():
    modules, _, _ = _graph()
    for module in modules:
        _floor(module)


def test_no_import_reaches_up_a_floor():
    _, graph, _ = _graph()
    upward = [f"{m} (floor {_floor(m)}) imports {t} (floor {_floor(t)})"
              for m, targets in graph.items() for t in targets if _floor(t) > _floor(m)]
    assert not upward, "\n".join(upward)


def test_the_import_graph_has_no_circle():
    _, graph, _ = _graph()
    state, stack, circles = {}, [], []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(" → ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not circles, "\n".join(circles)


@pytest.mark.parametrize("floor", range(len(FLOORS)))
def test_imports_sit_at_the_top_of_modules(floor):
    """Package modules are imported at the top; a third-party import inside a function is listed in LAZY."""
    modules, _, lazy = _graph()
    found = [f"{m}:{line} imports {t} inside a function" for m, t, line in lazy
             if _floor(m) == floor and (m, t) not in LAZY and m not in PENDING]
    assert not found, "\n".join(found)
