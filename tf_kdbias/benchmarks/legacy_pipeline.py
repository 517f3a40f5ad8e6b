"""The input pipeline as it was before the fit()-exit fix: the benchmark's baseline.

Not used for training. The fit benchmark keeps it only as the "before" that
`tf_kdbias.data.pipeline.make_dataset` (the "after") is compared against: the
`student_only_legacy_pipeline` row, `pipeline_overhead_legacy` and the
`legacy_pipeline` stall probe (docs/BENCHMARKS.md, "The fit() exit stall").
tests/data/test_pipeline.py checks that both give the same batches.
"""

from tf_kdbias.batch_format import INPUTS_KEY, TEACHER_LOGITS_KEY
from tf_kdbias.tf_support import require_tensorflow


def legacy_make_dataset(inputs, labels, teacher_logits=None, batch_size: int = 128,
                        shuffle: bool = False, seed: int = 0):
    """`make_dataset` as it was before the fit()-exit fix, for before/after rows.

    It sliced every example into tf.data, shuffled the examples themselves
    and let tf.data autotune the prefetch buffer.
    """
    require_tensorflow("The legacy tf.data pipeline (the fit benchmark's baseline)")
    import tensorflow as tf

    features = inputs if teacher_logits is None else {
        INPUTS_KEY: inputs, TEACHER_LOGITS_KEY: teacher_logits}
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
