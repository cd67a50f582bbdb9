"""Prompt templates are files in prompts/ (data, not code); this loads and fills them.

The repository's top-level prompts/ is the only copy in git. A built wheel carries it as the package data of
`ragchat.prompt_files` (pyproject.toml maps that package to the prompts/ folder), so an installed ragchat reads its
prompts with importlib.resources wherever it runs; a source checkout reads prompts/ beside the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from .errors import ConfigError

SOURCE_DIR = Path(__file__).resolve().parent.parent / "prompts"  # in a checkout, beside ragchat/
NAMES = ("answer_system", "short_answer_system", "answer_user", "condense", "abstain", "abstain_part", "undecided",
         "confirm_system", "confirm_user")


@dataclass(frozen=True)
class Prompts:
    answer_system: str  # a free answer with [n] markers (servers whose models follow instructions well)
    short_answer_system: str  # a few words copied from the evidence, as JSON (the small bundled model)
    answer_user: str  # {evidence}, {question}
    condense: str  # {history}, {question}
    abstain: str  # the fixed message for questions the documents do not answer
    abstain_part: str  # {question}: the line for one part of a question the documents do not answer
    undecided: str  # no answer: several passages answer about equally well and nothing verified tells them apart
    confirm_system: str  # a second reading: does the cited passage state this answer to this question? (JSON)
    confirm_user: str  # {passage}, {question}, {answer}

    @classmethod
    def load(cls, directory: Path | Traversable | None = None) -> "Prompts":
        directory = directory or default_dir()
        texts = {}
        for name in NAMES:
            path = directory / f"{name}.txt"
            try:
                texts[name] = path.read_text(encoding="utf-8").strip()
            except OSError:
                raise ConfigError(f"prompt file {path} is missing: restore it from the repository or set RAGCHAT_PROMPTS_DIR") from None
        return cls(**texts)


def default_dir() -> Path | Traversable:
    """The checkout's prompts/ when running from one (edits show at once), else the installed package data."""
    if (SOURCE_DIR.parent / "pyproject.toml").is_file() and (SOURCE_DIR / f"{NAMES[0]}.txt").is_file():
        return SOURCE_DIR
    try:
        return resources.files("ragchat.prompt_files")
    except ModuleNotFoundError:
        raise ConfigError(f"the prompt files are missing: neither {SOURCE_DIR} nor the installed package data "
                          "(ragchat.prompt_files) exists: reinstall ragchat or set RAGCHAT_PROMPTS_DIR") from None
