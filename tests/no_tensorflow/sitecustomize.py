"""Makes this Python process behave as if TensorFlow were not installed.

Put this folder on PYTHONPATH (tests do, for subprocesses and their
children): Python imports `sitecustomize` at start-up, and any import of
tensorflow or tensorflow_datasets then fails as on a machine without them.
"""

import importlib.abc
import os
import sys

# Tests may block more packages (comma-separated), e.g. jax for a process
# with no Keras backend at all.
BLOCKED = {"tensorflow", "tensorflow_datasets", "tf_keras"} | {
    name for name in os.environ.get("TF_KDBIAS_TEST_BLOCK_ALSO", "").split(",") if name}


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test's "
                                      "no-TensorFlow environment)", name=name)
        return None


sys.meta_path.insert(0, _NoTensorFlow())
