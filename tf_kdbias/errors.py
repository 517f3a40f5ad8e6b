"""Errors a user can fix, reported without a traceback by the scripts."""


class UserError(Exception):
    """A problem with the user's input (config, data, paths) and how to fix it.

    Scripts catch this, print the message and exit with a non-zero status, so
    the message must name the problem and the fix.
    """


def require(condition: bool, message: str) -> None:
    """Raises `UserError(message)` unless `condition` holds."""
    if not condition:
        raise UserError(message)
