"""The files shipped with cocogoat_utils: the metrics' feature classifier and the trained models, with their records.

In a wheel this folder is the package ``cocogoat_utils.checkpoints`` (see ``pyproject.toml``);
``cocogoat_utils.bundled.bundled_path`` finds its files wherever the package is installed.
"""
