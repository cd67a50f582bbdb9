"""Domain errors. Raised inside the library; the CLI, HTTP API and UI turn them into messages.

Every message says what was wrong and what to do about it.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: the message is meant for the user, not a developer."""


class ConfigError(RagError):
    """A setting has a value that cannot work."""


class SeedsError(RagError):
    """The documents folder is missing, empty, or holds nothing that can be indexed."""


class DocumentError(RagError):
    """One file cannot be read as text (binary, undecodable, empty, broken PDF)."""


class ReaderError(RagError):
    """The process that reads files cannot start (a broken installation, not a bad file)."""


class IndexMissingError(RagError):
    """No index has been built yet."""


class IndexCorruptError(RagError):
    """An index file is damaged or truncated."""


class IndexMismatchError(RagError):
    """The index was built with another embedder or chunking configuration."""


class IndexBusyError(RagError):
    """Another process is writing the index."""


class ModelError(RagError):
    """A model (embedder or generator) is missing or failed to load or run."""


class QuestionError(RagError):
    """The question is empty or otherwise unusable."""


class QuestionTooLongError(QuestionError):
    """The question is longer than the configured limit."""


class DocumentNotFoundError(RagError):
    """A requested document is not in the index."""


class BusyError(RagError):
    """The server is at capacity for this kind of work; retry later (retry_after seconds) or ask another way."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModeNotAllowedError(RagError):
    """The caller asked for an answer mode this server does not offer."""


class StoreUnavailableError(RagError):
    """The index server (Milvus) cannot be reached or opened."""
