"""The recorded studies shipped with cocogoat_utils: comparisons run with seeds, each with its record and page.

In a wheel this folder is the package ``cocogoat_utils.studies`` (see ``pyproject.toml``);
``cocogoat_utils.study.load_record`` finds a record wherever the package is installed, and
``python -m cocogoat_utils.study NAME`` writes one.
"""
