"""The one exception type users see: the CLI prints its message, without a traceback."""


class PointdiffError(Exception):
    """A problem with the user's input or environment, explained in words a user can act on."""
