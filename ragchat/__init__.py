"""ragchat: questions answered from a folder of documents, every claim cited to an exact passage."""

from .embedding import Embedder, load_embedder
from .errors import (
    ConfigError,
    QuestionTooLongError,
    DocumentError,
    DocumentNotFoundError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    ModelError,
    QuestionError,
    RagError,
    SeedsError,
)
from .indexing import IndexReport, build_index
from .qa import QA, load
from .retrieval import Retriever, open_retriever
from .settings import Settings
from .store import FaissStore, Store
from .schema import answer_json
from .types import Answer, Chunk, Citation, Document, Evidence, Hit

__all__ = [
    "Answer", "Chunk", "Citation", "ConfigError", "Document", "DocumentError", "DocumentNotFoundError", "Embedder",
    "Evidence", "Hit", "IndexBusyError", "IndexCorruptError", "IndexMismatchError", "IndexMissingError",
    "IndexReport", "ModelError", "QA", "QuestionError", "QuestionTooLongError", "RagError", "Retriever", "SeedsError",
    "Settings", "Store", "FaissStore", "answer_json", "build_index", "load", "load_embedder", "open_retriever",
]
