"""Resolves the one data location used by every script and loader."""

import os
from typing import Optional

from tf_kdbias.errors import UserError

DATA_DIR_ENV = "TF_KDBIAS_DATA_DIR"


def resolve_data_dir(data_dir: Optional[str] = None) -> Optional[str]:
    """Returns the data directory from the argument or `$TF_KDBIAS_DATA_DIR`.

    None means "no local data": loaders fall back to the official TFDS
    datasets (which download). A directory that is given but does not exist is
    an error rather than a silent fallback to a download.
    """
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
    if data_dir is None:
        return None
    data_dir = os.path.abspath(os.path.expanduser(data_dir))
    if not os.path.isdir(data_dir):
        raise UserError(
            f"Data directory {data_dir!r} does not exist. Pass --data_dir (or "
            f"set ${DATA_DIR_ENV}) to a folder laid out like shared/data "
            "(mnist/*-ubyte.gz, sva/...), or leave both unset to download the "
            "official TFDS datasets.")
    return data_dir
