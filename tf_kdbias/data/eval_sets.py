"""Named evaluation sets: 'mnist', 'mnist_c/<corruption>', 'mnist_c/all'."""

from typing import Dict, List, Optional, Sequence

import gin

from tf_kdbias.data.corruptions.registry import CORRUPTION_NAMES
from tf_kdbias.data.mnist import ImageSplit, load_mnist_idx, load_mnist_tfds
from tf_kdbias.data.mnist_c import load_mnist_c
from tf_kdbias.data.paths import resolve_data_dir
from tf_kdbias.errors import UserError

MNIST_EVAL_SETS = ("mnist", "mnist_c/scale", "mnist_c/translate")


def expand_eval_sets(names: Sequence[str]) -> List[str]:
    """Validates names and expands 'mnist_c/all' into every corruption."""
    expanded = []
    for name in names:
        if name == "mnist_c/all":
            expanded += [f"mnist_c/{c}" for c in CORRUPTION_NAMES]
        elif name == "mnist" or (name.startswith("mnist_c/") and
                                 name.split("/", 1)[1] in CORRUPTION_NAMES):
            expanded.append(name)
        else:
            raise UserError(
                f"Unknown eval set {name!r}. Use 'mnist', 'mnist_c/all' or "
                f"'mnist_c/<corruption>' with a corruption among "
                f"{', '.join(CORRUPTION_NAMES)}.")
    return list(dict.fromkeys(expanded))


def expand_any_eval_sets(names: Sequence[str]) -> List[str]:
    """Expands eval-set names of every task: MNIST/MNIST-C, 'sva/...' and
    'linzen_simple/...'.

    For tools that plan runs before any task exists (reproduce); each run's
    task validates its own names again.
    """
    from tf_kdbias.data.sva.eval_set_names import expand_sva_eval_sets, is_sva_eval_set

    expanded = []
    for name in names:
        expanded += (expand_sva_eval_sets([name]) if is_sva_eval_set(name)
                     else expand_eval_sets([name]))
    return list(dict.fromkeys(expanded))


@gin.configurable
def load_eval_set(name: str, data_dir: Optional[str] = None,
                  mnist_c_source: str = "ours", mnist_c_seed: int = 0) -> ImageSplit:
    """Loads one named eval set (see `expand_eval_sets`)."""
    (name,) = expand_eval_sets([name])
    if name == "mnist":
        data_dir = resolve_data_dir(data_dir)
        return load_mnist_tfds("test") if data_dir is None else load_mnist_idx(data_dir, "test")
    return load_mnist_c(name.split("/", 1)[1], data_dir, source=mnist_c_source,
                        seed=mnist_c_seed)


def load_eval_sets(names: Sequence[str], data_dir: Optional[str] = None) -> Dict[str, ImageSplit]:
    return {name: load_eval_set(name, data_dir) for name in expand_eval_sets(names)}
