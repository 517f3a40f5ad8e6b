"""Holds a run still right after a chosen epoch backup, until something stops it.

Put this folder on PYTHONPATH with CHAIN_PAUSE_RUN=<part of a run folder's
path> and CHAIN_PAUSE_EPOCH=<k> (tests/reproduce/test_chain.py does, for one
slot of a chain): the run whose backup folder contains CHAIN_PAUSE_RUN waits
after its epoch-k backup is complete, so that the chain's budget (an epoch
budget) cuts it exactly there, never an epoch later.
"""

import importlib.abc
import importlib.util
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


class _Wrapper(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _pause_after_backup(module)


sys.meta_path.insert(0, _Wrapper())
