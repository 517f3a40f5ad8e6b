"""Installs tf_kdbias.

  pip install -e ".[tf]"    TensorFlow backend (tf.data, TFDS, TensorBoard, SavedModel)
  pip install -e ".[jax]"   Keras' JAX backend alone, no TensorFlow (e.g. a JAX GPU box)
  pip install -e ".[test]"  both, plus the test tools
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(
    r'__version__ = "([^"]+)"',
    (Path(__file__).parent / "tf_kdbias" / "__init__.py").read_text(),
).group(1)

TF_REQUIRES = [
    "tensorflow==2.21.*",
    "tensorboard",
    "tensorflow-datasets",
    # TFDS imports importlib_resources without declaring it.
    "importlib_resources",
]
# Keras 3.12+ runs on these; CPU wheels here, `jax[cuda12]`/`jax[cuda13]` for GPUs.
JAX_REQUIRES = ["jax>=0.4.35"]

setup(
    name="tf_kdbias",
    version=VERSION,
    description=(
        "Knowledge distillation as a way to transfer inductive biases "
        "(Keras 3 / TensorFlow research suite)."
    ),
    long_description=Path("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["tf_kdbias", "tf_kdbias.*"]),
    # The paper's numbers, read by reproduce/results.py.
    package_data={"tf_kdbias.reproduce": ["paper_results.json"]},
    python_requires=">=3.10",
    # The backend-neutral core; a backend comes with an extra below.
    install_requires=[
        "keras>=3.12",
        "gin-config",
        "absl-py",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "tqdm",
    ],
    extras_require={
        "tf": TF_REQUIRES,
        "jax": JAX_REQUIRES,
        "test": TF_REQUIRES + JAX_REQUIRES + ["pytest", "pytest-xdist", "scikit-image"],
    },
)
