"""Every gin configurable of the suite, registered by importing this module.

Gin finds a configurable only once the module defining it has been imported.
Every script imports this module before parsing its gin files, so any name a
gin file binds (e.g. `build_mlp`, `SvaClassificationTask`, `Distiller`) is
known, whichever task or model the file selects.
"""

# pylint: disable=unused-import
from tf_kdbias.data import eval_sets  # noqa: F401
from tf_kdbias.data.sva import grammar, sources  # noqa: F401
from tf_kdbias.distill import distiller, schedules  # noqa: F401
from tf_kdbias.metrics import agreement  # noqa: F401
from tf_kdbias.models import cnn, lstm, mlp, sva, transformer  # noqa: F401
from tf_kdbias.optimizers import factory  # noqa: F401
from tf_kdbias.reproduce import ablation, plan  # noqa: F401
from tf_kdbias.tasks import mnist, sva_classification, sva_language_model  # noqa: F401
from tf_kdbias.training import distribute, function_matching, fused, run, settings  # noqa: F401
