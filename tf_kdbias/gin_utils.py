"""Parsing gin files and bindings with errors a user can act on."""

import os
from typing import Sequence

import gin

from tf_kdbias.errors import UserError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _resolve_gin_file(path: str) -> str:
    for candidate in (path, os.path.join(REPO_ROOT, path)):
        if os.path.isfile(candidate):
            return candidate
    raise UserError(f"Gin file {path!r} not found (looked in the current folder and in "
                    f"{REPO_ROOT}). Check the --gin_file path; configs live under gin_configs/.")


def parse_gin(gin_files: Sequence[str], gin_bindings: Sequence[str]) -> None:
    """Parses files then bindings; unknown names are UserErrors, not tracebacks."""
    # Registers every configurable a gin file may bind (imports reproduce/, which needs
    # REPO_ROOT from this module: hence here, not at the top).
    from tf_kdbias import configurables  # noqa: F401  pylint: disable=import-outside-toplevel
    gin.clear_config()
    gin.add_config_file_search_path(REPO_ROOT)
    files = [_resolve_gin_file(f) for f in gin_files]
    try:
        gin.parse_config_files_and_bindings(files, gin_bindings, finalize_config=False)
    except (ValueError, KeyError, SyntaxError, IOError) as e:
        message = str(e).strip()
        raise UserError(
            f"Invalid gin configuration: {message}\nFix the binding or file named above: "
            "configurable and parameter names must match the code (see the files in "
            "gin_configs/ for the names in use), and each binding looks like "
            "'build_mlp.hidden_units = (512, 128, 32)' or 'EPOCHS = 3'.") from e
