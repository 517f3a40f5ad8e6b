"""Installs tf_kdbias: `pip install -e ".[test]"`."""

import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(
    r'__version__ = "([^"]+)"',
    (Path(__file__).parent / "tf_kdbias" / "__init__.py").read_text(),
).group(1)

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
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "keras>=3.12",
        "tensorboard",
        "tensorflow-datasets",
        # TFDS imports importlib_resources without declaring it.
        "importlib_resources",
        "gin-config",
        "absl-py",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "tqdm",
    ],
    extras_require={
        "test": ["pytest", "scikit-image"],
    },
)
