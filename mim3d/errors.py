"""User-facing errors.

Every error a user can cause (bad input, a wrong file, a misspelt option) is raised as
:class:`Mim3dError` with a message that says what was expected, what was found and what to do.
The command line prints such errors as one line, without a traceback, and exits with status 2.
"""

from __future__ import annotations


class Mim3dError(ValueError):
    """An error caused by the user's input, with a message the user can act on."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`Mim3dError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Mim3dError(message)
