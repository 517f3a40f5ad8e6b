"""The format of a training batch, shared by the input pipelines and the Distiller.

A batch's inputs are the model inputs alone, or — when the teacher's logits
were computed beforehand (a logit or view cache) — a dict holding both:

  {INPUTS_KEY: model inputs, TEACHER_LOGITS_KEY: cached teacher logits}

Cached logits are an array [..., classes], or for large vocabularies only
the k largest: {TOP_K_VALUES: [..., k], TOP_K_INDICES: [..., k]}.
"""

INPUTS_KEY = "inputs"
TEACHER_LOGITS_KEY = "teacher_logits"
TOP_K_VALUES = "values"
TOP_K_INDICES = "indices"
