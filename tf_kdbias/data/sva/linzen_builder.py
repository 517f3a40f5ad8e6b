"""TFDS builder for the Linzen et al. (2016) agreement data.

The source file comes from `<data_dir>/sva/linzen2016/agr_50_mostcommon_10K.tsv.gz`
(the manual dir) when present, otherwise it is downloaded from the original
URL. Rows are validated (see `linzen.py`), shuffled with seed 42 and split
10% train / 1% validation / 89% test (docs/PAPER_SETUP.md, "Scenario 1"). The
prepared dataset and its vocabulary (`vocab.txt`, built from the train split) go to the cache folder,
never the data dir, which may be read-only.
"""

import os
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow_datasets as tfds

from tf_kdbias import io_utils
from tf_kdbias.data.paths import resolve_data_dir
from tf_kdbias.data.sva import linzen
from tf_kdbias.data.sva.example import AgreementExample
from tf_kdbias.data.sva.tokens import normalize_words
from tf_kdbias.data.sva.vocabulary import VOCAB_FILENAME, Vocabulary
from tf_kdbias.errors import UserError

MANUAL_SUBDIR = os.path.join("sva", "linzen2016")


class Linzen2016Agreement(tfds.core.GeneratorBasedBuilder):
    """Linzen, Dupoux & Goldberg (2016) agreement sentences, split 10/1/89.

    Args:
      max_bad_fraction: largest fraction of malformed rows skipped (with a
        report by line number); more fails with a `UserError`.
      max_bad_rows_always_allowed: bad rows skipped even in a tiny file.
      **kwargs: `tfds.core.GeneratorBasedBuilder` arguments (`data_dir`, ...).

    Example:

    >>> builder = Linzen2016Agreement(data_dir="/tmp/tfds")
    >>> builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
    ...     manual_dir="shared/data/sva/linzen2016", try_download_gcs=False))
    >>> builder.info.splits["train"].num_examples
    """

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.0.0": "Validated rows; seed-42 split 10% / 1% / 89%.",
                     # A new folder, so no vocab.txt of lower-cased placeholders is reused.
                     "1.1.0": "The vocabulary keeps POS placeholders (NNS, IN, ...) as they are."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Place {linzen.LINZEN_FILENAME} (from {linzen.LINZEN_URL}) in "
        f"<data_dir>/{MANUAL_SUBDIR}/, or let the builder download it.")

    def __init__(self, *, max_bad_fraction: float = 0.01,
                 max_bad_rows_always_allowed: int = 0, **kwargs):
        self.max_bad_fraction = max_bad_fraction
        self.max_bad_rows_always_allowed = max_bad_rows_always_allowed
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        features = {column: (np.int32 if column in linzen.INT_COLUMNS
                             else tfds.features.Text())
                    for column in linzen.LINZEN_COLUMNS}
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            homepage="https://github.com/TalLinzen/rnn_agreement",
            citation="Linzen, Dupoux and Goldberg (2016), Assessing the ability of "
                     "LSTMs to learn syntax-sensitive dependencies. TACL.")

    def _source_path(self, dl_manager) -> str:
        manual_dir = getattr(dl_manager, "_manual_dir", None)
        if manual_dir is not None:
            candidate = os.path.join(os.fspath(manual_dir), linzen.LINZEN_FILENAME)
            if os.path.exists(candidate):
                return candidate
        return os.fspath(dl_manager.download(linzen.LINZEN_URL))

    def _split_generators(self, dl_manager):
        path = self._source_path(dl_manager)
        # A first pass validates every row and reports the bad ones; the
        # split generators stream the file again rather than hold it.
        num_valid = linzen.read_linzen_tsv(path, self.max_bad_fraction,
                                           self.max_bad_rows_always_allowed,
                                           keep_rows=False).num_valid
        if num_valid == 0:
            raise UserError(f"{path} has no valid rows; it is not a Linzen agreement file.")
        indices = linzen.split_indices(num_valid)
        return {name: self._generate_examples(path, set(int(i) for i in idx))
                for name, idx in indices.items()}

    def _generate_examples(self, path: str, ordinals: set):
        """Yields the valid rows whose ordinal (0-based, among valid rows) is
        in `ordinals`, keyed by their line number."""
        ordinal = 0
        for line_num, row, _ in linzen.iter_linzen_file(path):
            if row is None:
                continue
            if ordinal in ordinals:
                yield line_num, {column: row[column] for column in linzen.LINZEN_COLUMNS}
            ordinal += 1


def _manual_file(data_dir: Optional[str]) -> Optional[str]:
    if data_dir is None:
        return None
    path = os.path.join(data_dir, MANUAL_SUBDIR, linzen.LINZEN_FILENAME)
    return path if os.path.exists(path) else None


def prepare_builder(data_dir: Optional[str] = None, download: bool = True,
                    max_bad_fraction: float = 0.01,
                    max_bad_rows_always_allowed: int = 0) -> Linzen2016Agreement:
    """A prepared builder for the manual file (or a download).

    The prepared copy lives in the cache under a digest of the source file,
    so a replaced file gets a fresh dataset instead of a stale one.
    """
    data_dir = resolve_data_dir(data_dir)
    manual_file = _manual_file(data_dir)
    if manual_file is None and not download:
        raise UserError(
            f"No {linzen.LINZEN_FILENAME} under <data_dir>/{MANUAL_SUBDIR}/ "
            f"(data_dir={data_dir!r}) and downloading is off. Place the file there "
            f"(from {linzen.LINZEN_URL}), allow the download (LinzenSource.download = "
            "True), or use the offline sources (source_grammar.gin, source_linzen_small.gin).")
    key = io_utils.digest_file(manual_file) if manual_file else "download"
    builder = Linzen2016Agreement(
        data_dir=os.path.join(io_utils.cache_dir(), "tfds", f"linzen_{key}"),
        max_bad_fraction=max_bad_fraction,
        max_bad_rows_always_allowed=max_bad_rows_always_allowed)
    config = tfds.download.DownloadConfig(
        manual_dir=os.path.dirname(manual_file) if manual_file else None,
        try_download_gcs=False)
    try:
        builder.download_and_prepare(
            download_dir=os.path.join(io_utils.cache_dir(), "downloads"),
            download_config=config)
    except UserError:
        raise
    except Exception as e:  # Network and TFDS errors: say what to do instead.
        if manual_file is not None:
            raise
        raise UserError(
            f"Could not download {linzen.LINZEN_URL} ({type(e).__name__}: {e}). Place "
            f"{linzen.LINZEN_FILENAME} under <data_dir>/{MANUAL_SUBDIR}/ or use an "
            "offline source (source_grammar.gin, source_linzen_small.gin).") from e
    return builder


def _decode(value) -> object:
    return value.decode("utf-8") if isinstance(value, bytes) else int(value)


def read_split_rows(builder: Linzen2016Agreement, split: str) -> List[linzen.Row]:
    """The rows of one prepared split, as Python values."""
    return [{k: _decode(v) for k, v in example.items()}
            for example in tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))]


def dataset_vocabulary(builder: Linzen2016Agreement,
                       train_rows: List[linzen.Row]) -> Vocabulary:
    """The train-split vocabulary, saved beside the prepared dataset."""
    path = os.path.join(os.fspath(builder.data_dir), VOCAB_FILENAME)
    if os.path.exists(path):
        return Vocabulary.load(path)
    vocabulary = Vocabulary.build(normalize_words(str(row["sentence"])) for row in train_rows)
    vocabulary.save(path)
    return vocabulary


def load_linzen_splits(data_dir: Optional[str] = None, download: bool = True,
                       max_bad_fraction: float = 0.01,
                       max_bad_rows_always_allowed: int = 0
                       ) -> Tuple[Dict[str, List[AgreementExample]], Vocabulary]:
    """Train/validation/test examples of the Linzen file and its vocabulary.

    Wrong verb forms come from an inflection table built from the train
    split's POS tags (the LM scoring of docs/PAPER_SETUP.md, "Scenario 1").
    """
    builder = prepare_builder(data_dir, download, max_bad_fraction,
                              max_bad_rows_always_allowed)
    rows = {split: read_split_rows(builder, split) for split in ("train", "validation", "test")}
    vocabulary = dataset_vocabulary(builder, rows["train"])
    inflections = linzen.inflection_table_from_rows(rows["train"])
    examples = {split: [linzen.row_to_example(row, inflections) for row in split_rows]
                for split, split_rows in rows.items()}
    return examples, vocabulary
