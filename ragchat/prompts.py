"""Prompt templates are files in prompts/ (data, not code); this loads and fills them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "prompts"
NAMES = ("answer_system", "short_answer_system", "answer_user", "condense", "abstain", "abstain_part")


@dataclass(frozen=True)
class Prompts:
    answer_system: str  # a free answer with [n] markers (servers whose models follow instructions well)
    short_answer_system: str  # a few words copied from the evidence, as JSON (the small bundled model)
    answer_user: str  # {evidence}, {question}
    condense: str  # {history}, {question}
    abstain: str  # the fixed message for questions the documents do not answer
    abstain_part: str  # {question}: the line for one part of a question the documents do not answer

    @classmethod
    def load(cls, directory: Path | None = None) -> "Prompts":
        directory = directory or DEFAULT_DIR
        texts = {}
        for name in NAMES:
            path = directory / f"{name}.txt"
            try:
                texts[name] = path.read_text(encoding="utf-8").strip()
            except OSError:
                raise ConfigError(f"prompt file {path} is missing: restore it from the repository or set RAGCHAT_PROMPTS_DIR") from None
        return cls(**texts)
