"""Names of the SVA eval sets, validated without loading anything."""

from typing import List, Sequence

from tf_kdbias.errors import UserError

SVA_EVAL_SETS = ("sva/test", "sva/linzen_testset", "sva/gulordava2018")
ALL = "sva/all"


def expand_sva_eval_sets(names: Sequence[str]) -> List[str]:
    """Validates SVA eval-set names and expands 'sva/all'."""
    expanded = []
    for name in names:
        if name == ALL:
            expanded += SVA_EVAL_SETS
        elif name in SVA_EVAL_SETS:
            expanded.append(name)
        else:
            raise UserError(f"Unknown SVA eval set {name!r}; use one of "
                            f"{', '.join(SVA_EVAL_SETS)} or {ALL!r}.")
    return list(dict.fromkeys(expanded))
