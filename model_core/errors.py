"""Errors a user can act on.

Every failure that reaches the UI or the command line is one of these, carrying
a sentence a person can read. Anything else is a bug and is logged as such.
"""


class LogitscopeError(Exception):
    """Base class: the message is shown to the user as it is."""


class ModelLoadError(LogitscopeError):
    """The model could not be found, fetched, verified or loaded."""


class UnsupportedModelError(ModelLoadError):
    """The checkpoint is of an architecture or format we refuse to run."""


class PromptError(LogitscopeError):
    """The prompt cannot be traced (empty, too long for the context, ...)."""


class Cancelled(LogitscopeError):
    """The user cancelled a long operation."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class NonFiniteError(LogitscopeError):
    """The model computed NaN or infinity (damaged weights, an overflow in half precision)."""
