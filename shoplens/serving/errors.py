"""The serving package's one error type."""


class ServingError(RuntimeError):
    """A publish was refused or failed; the previous serving database is unchanged."""
