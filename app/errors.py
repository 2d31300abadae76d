"""The one exception type whose message is shown to the user as it is.

Anything raised as a ``HearthError`` carries a single readable line; the CLI
prints it to stderr and exits non-zero, the GUI shows it in the window.
Everything else is a bug and is logged with its traceback.
"""


class HearthError(Exception):
    """An error the user can act on; ``str(exc)`` is the whole message."""
