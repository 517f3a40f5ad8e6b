"""Patches a module right after it is imported, for the sitecustomize hooks of the tests.

A `sitecustomize.py` on PYTHONPATH (tests/chain_pause/, tests/kill_during_evaluation/)
adds this folder to sys.path and calls `patch_on_import(names, patch)`: when
any module in `names` is imported, it is executed as usual and then handed to
`patch(module)`, so a subprocess (a script and its runs) gets the patched code.
"""

import importlib.abc
import importlib.util
import sys
from typing import Callable, Sequence


class _Wrapper(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names: Sequence[str], patch: Callable) -> None:
        self._names, self._patch, self._loader = tuple(names), patch, None

    def find_spec(self, name, path=None, target=None):
        if name not in self._names:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)


def patch_on_import(names: Sequence[str], patch: Callable) -> None:
    """Calls `patch(module)` after each module named in `names` is first imported."""
    sys.meta_path.insert(0, _Wrapper(names, patch))
