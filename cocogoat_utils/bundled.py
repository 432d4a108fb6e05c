"""Where the files shipped inside the package are found: the trained models and the judge's feature network.

``checkpoints/`` in the repository is the package data ``cocogoat_utils.checkpoints``, so the
wheel (``pip install git+…``, Colab) carries the same files as a checkout. This module sits on
the ground floor (it imports only ``runtime``) so that any module may look a file up without
importing the model zoo. Nothing is ever downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .runtime import PACKAGE_DIR

BUNDLE_PACKAGE = "cocogoat_utils.checkpoints"


def package_data_dirs(package: str, folder: str) -> list[Path]:
    """Where the package data ``package`` is looked for, in order: the installed package's folder, then the
    checkout's ``folder`` (``checkpoints/`` ships as ``cocogoat_utils.checkpoints``, ``studies/`` as
    ``cocogoat_utils.studies``)."""
    found = []
    try:
        found.append(Path(str(resources.files(package))))
    except (ModuleNotFoundError, TypeError):
        pass
    checkout = PACKAGE_DIR.parent / folder
    if checkout not in found:
        found.append(checkout)
    return found


def bundle_dirs() -> list[Path]:
    """Where bundled files are looked for, in order: the installed package data, then the checkout's ``checkpoints/``."""
    return package_data_dirs(BUNDLE_PACKAGE, "checkpoints")


def bundled_path(name: str) -> Path:
    """The bundled file ``name`` (``"openmoji_classifier.pt"``, ``"dcgan.json"``…), wherever the package is installed."""
    for folder in bundle_dirs():
        if (folder / name).is_file():
            return folder / name
    looked = ", ".join(str(f) for f in bundle_dirs())
    raise FileNotFoundError(f"the bundled file {name} is missing (looked in {looked}); a checkout has it in "
                            "checkpoints/, and `python -m cocogoat_utils.pretrain --list` says how each model is made")
