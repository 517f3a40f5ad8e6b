"""SIGKILLs this Python process when a task starts its final evaluation.

Put this folder on PYTHONPATH (tests/reproduce/test_killed_during_evaluation.py
does, for reproduce.py and its runs): Python imports `sitecustomize` at
start-up, and this one wraps `Task.evaluate` of every task module when it is
imported, so a run dies exactly after model.keras is written and before
metrics.json.
"""

import importlib.abc
import importlib.util
import os
import signal
import sys

_TASK_MODULES = ("tf_kdbias.tasks.mnist",)


def _kill_on_evaluate(module) -> None:
    task_class = module.MnistTask

    def evaluate(self, *args, **kwargs):
        del self, args, kwargs
        print("kill_during_evaluation: SIGKILL", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    task_class.evaluate = evaluate


class _Wrapper(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name not in _TASK_MODULES:
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
        _kill_on_evaluate(module)


sys.meta_path.insert(0, _Wrapper())
