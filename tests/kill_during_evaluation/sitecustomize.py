"""SIGKILLs this Python process when a task starts its final evaluation.

Put this folder on PYTHONPATH (tests/reproduce/test_killed_during_evaluation.py
does, for reproduce.py and its runs): Python imports `sitecustomize` at
start-up, and this one wraps `Task.evaluate` of every task module when it is
imported, so a run dies exactly after model.keras is written and before
metrics.json.
"""

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


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "import_hooks"))
from patch_on_import import patch_on_import  # noqa: E402

patch_on_import(_TASK_MODULES, _kill_on_evaluate)
