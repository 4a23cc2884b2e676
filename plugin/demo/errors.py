"""The demo's one error."""


class DemoError(RuntimeError):
    """The demo could not go on; the message says what to do."""
