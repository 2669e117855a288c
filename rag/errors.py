"""The library's own exceptions. The CLI and the web app turn them into one clear sentence."""


class RagError(Exception):
    """Base class: anything the user can act on."""


class DocumentError(RagError):
    """A file could not be read as a document (the reason is the message)."""


class IndexNotFoundError(RagError):
    """There is no built index where one was expected."""


class IndexMismatchError(RagError):
    """The index on disk was built differently (format, model, dimension) from what is asked now."""


class IndexCorruptError(RagError):
    """A file of the index is missing, truncated or damaged."""


class ConfigError(RagError):
    """A setting (an environment variable) has a value that cannot be used."""
