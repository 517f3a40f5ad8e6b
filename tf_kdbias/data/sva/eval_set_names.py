"""Names of the SVA eval sets, validated without loading anything."""

from typing import List, Sequence, Tuple

from tf_kdbias.errors import UserError

SVA_EVAL_SETS = ("sva/test", "sva/linzen_testset", "sva/gulordava2018")
ALL = "sva/all"
# Linzen et al.'s "simple" release: one set per attractor count, then all five.
LINZEN_SIMPLE_PREFIX = "linzen_simple/"
LINZEN_SIMPLE_ATTRACTORS = (1, 2, 3, 4, 5)
LINZEN_SIMPLE_ALL = LINZEN_SIMPLE_PREFIX + "test"
LINZEN_SIMPLE_EVAL_SETS = tuple(f"{LINZEN_SIMPLE_PREFIX}test_{k}"
                                for k in LINZEN_SIMPLE_ATTRACTORS) + (LINZEN_SIMPLE_ALL,)
# Names routed to the SVA tasks by tools that see names before any task.
SVA_EVAL_SET_PREFIXES = ("sva/", LINZEN_SIMPLE_PREFIX)
# The A-accuracy groups (docs/PAPER_SETUP.md, "Scenario 1"); linzen_simple has no 0-attractor file.
DEFAULT_ATTRACTOR_GROUPS = (0, 1, 2, 3, 4)


def expand_sva_eval_sets(names: Sequence[str]) -> List[str]:
    """Validates SVA eval-set names and expands 'sva/all'."""
    expanded = []
    for name in names:
        if name == ALL:
            expanded += SVA_EVAL_SETS
        elif name in SVA_EVAL_SETS or name in LINZEN_SIMPLE_EVAL_SETS:
            expanded.append(name)
        else:
            raise UserError(f"Unknown SVA eval set {name!r}; use one of "
                            f"{', '.join(SVA_EVAL_SETS + LINZEN_SIMPLE_EVAL_SETS)} or {ALL!r}.")
    return list(dict.fromkeys(expanded))


def is_sva_eval_set(name: str) -> bool:
    return name.startswith(SVA_EVAL_SET_PREFIXES)


def attractor_groups(name: str) -> Tuple[int, ...]:
    """The attractor counts whose mean accuracy is the A-accuracy on `name`."""
    return LINZEN_SIMPLE_ATTRACTORS if name.startswith(LINZEN_SIMPLE_PREFIX) \
        else DEFAULT_ATTRACTOR_GROUPS


def linzen_simple_attractors(name: str) -> Tuple[int, ...]:
    """The attractor counts (test files) a linzen_simple eval set is made of."""
    if name == LINZEN_SIMPLE_ALL:
        return LINZEN_SIMPLE_ATTRACTORS
    return (int(name.rsplit("_", 1)[1]),)
