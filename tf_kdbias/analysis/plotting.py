"""Shared matplotlib setup: a headless backend, one colour per setup, saving."""

import os

import matplotlib

matplotlib.use("Agg")  # Analyses run on servers without a display.
import matplotlib.pyplot as plt  # noqa: E402

from tf_kdbias.analysis.workdir import SETUP_ORDER  # noqa: E402
from tf_kdbias.rundir import parse_setup  # noqa: E402

_PALETTE = plt.get_cmap("tab10").colors
DPI = 110


def setup_colour(setup: str):
    """A stable colour per setup: the same setup looks the same in every figure."""
    index = SETUP_ORDER.index(setup) if setup in SETUP_ORDER else len(SETUP_ORDER) + (
        sum(map(ord, setup)) % 4)
    return _PALETTE[index % len(_PALETTE)]


def setup_marker(setup: str) -> str:
    """Circles for MLP students, squares for CNN students, triangles otherwise."""
    student, _ = parse_setup(setup)
    return {"mlp": "o", "cnn": "s"}.get(student, "^")


def save_figure(figure, path: str) -> str:
    """Writes `figure` as a PNG (via a temp file, so readers never see half a
    file) and closes it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    figure.savefig(tmp, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    os.replace(tmp, path)
    return path
