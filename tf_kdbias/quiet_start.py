"""A quiet TensorFlow start: no C++ start-up lines on a machine without a GPU.

TensorFlow's shared libraries log a few lines while they load, before its
logging is initialised, so TF_CPP_MIN_LOG_LEVEL does not reach them: the
absl pre-init notice, "oneDNN custom operations are on", "Could not find
cuda drivers", the CPU-feature notice, and (at the first device query)
"failed call to cuInit". They say nothing a user must act on and bury real
output.

`install()` (called by `tf_kdbias/__init__.py`) arranges that the first
`import tensorflow` in the process runs with file descriptor 2 held back,
together with a first device listing; afterwards everything written meanwhile
is written back except the known start-up lines. Everything else (Python
warnings, errors, unknown C++ lines) comes through unchanged, and
TF_CPP_MIN_LOG_LEVEL defaults to 1, which drops TensorFlow's later INFO lines
but keeps its warnings and errors. With TF_CPP_MIN_LOG_LEVEL=0 set by the
user, nothing is filtered.
"""

import contextlib
import importlib.abc
import os
import re
import sys
import tempfile
from typing import Iterator, List

_LOG_PREFIX = r"^[IWEF]\d{4} [\d:.]+\s+\d+ "
# (pattern, condition): a line matching `pattern` is dropped when the held
# back text also matches `condition` (None: always).
STARTUP_LINES = (
    (r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
     r"STDERR$", None),
    (_LOG_PREFIX + r"port\.cc:\d+\] oneDNN custom operations are on\.", None),
    (_LOG_PREFIX + r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine", None),
    (_LOG_PREFIX + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized", None),
    (r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate "
     r"compiler flags\.$", None),
    # No CUDA driver at all (the line above): cuInit cannot succeed, and the
    # machine has no GPU to miss. With a driver, a failing cuInit is news.
    (_LOG_PREFIX + r"cuda_platform\.cc:\d+\] failed call to cuInit",
     r"Could not find cuda drivers on your machine"),
)
_COMPILED = [(re.compile(p), re.compile(c) if c else None) for p, c in STARTUP_LINES]


def drop_startup_lines(text: str) -> str:
    """`text` without TensorFlow's known start-up lines (whole lines, endings kept)."""
    kept: List[str] = []
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if not any(pattern.search(bare) and (condition is None or condition.search(text))
                   for pattern, condition in _COMPILED):
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Holds back what the process (C++ included) writes to descriptor 2 in the
    block; then writes it to stderr without the start-up lines."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield  # No usable descriptor 2 (an embedded interpreter): nothing to filter.
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()  # Python's own writes made in the block go first.
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            held.seek(0)
            text = drop_startup_lines(held.read().decode("utf-8", errors="replace"))
            if text:
                sys.stderr.write(text)
                sys.stderr.flush()


def _first_device_query(tensorflow) -> None:
    """Lists the devices once, so that CUDA's start-up lines come now, filtered.

    Listing physical devices initialises no runtime: memory growth and
    distribution strategies can still be configured afterwards.
    """
    try:
        tensorflow.config.list_physical_devices()
    except Exception:  # pylint: disable=broad-except
        pass  # Not ours to fail on: TensorFlow reports it again when used.


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of `tensorflow` inside `filtered_stderr()`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # TensorFlow sees its own loader, as without this wrapper.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        with filtered_stderr():
            self._loader.exec_module(module)
            _first_device_query(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` with the other finders and wraps its loader."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or "tensorflow" in sys.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)  # A blocker's error propagates.
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Makes the process's first `import tensorflow` quiet (see the module doc).

    Does nothing when TensorFlow is already imported or the user asked for
    every line with TF_CPP_MIN_LOG_LEVEL=0.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
