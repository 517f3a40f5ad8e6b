"""Holds a run still right after a chosen epoch backup, until something stops it.

Put this folder on PYTHONPATH with CHAIN_PAUSE_RUN=<part of a run folder's
path> and CHAIN_PAUSE_EPOCH=<k> (tests/reproduce/test_chain.py does, for one
slot of a chain): the run whose backup folder contains CHAIN_PAUSE_RUN waits
after its epoch-k backup is complete, so that the chain's budget (an epoch
budget) cuts it exactly there, never an epoch later.
"""

import os
import sys
import time

_MODULE = "tf_kdbias.training.resume"


def _pause_after_backup(module) -> None:
    save = module.EpochBackup._save
    run, epoch = os.environ.get("CHAIN_PAUSE_RUN"), int(os.environ.get("CHAIN_PAUSE_EPOCH", 0))

    def _save(self, epochs_done):
        save(self, epochs_done)
        if run and run in self.backup_dir and epochs_done == epoch:
            print(f"chain_pause: holding after the epoch {epoch} backup", flush=True)
            while True:
                time.sleep(60)

    module.EpochBackup._save = _save


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "import_hooks"))
from patch_on_import import patch_on_import  # noqa: E402

patch_on_import((_MODULE,), _pause_after_backup)
