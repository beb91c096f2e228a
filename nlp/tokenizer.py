"""jieba with the project's domain dictionary and synonym table, loaded once per process.

`cut` is the precise cut (classifier features, search queries); `cut_for_search` also yields the
short words inside long ones (上海交通大学 → 上海/交通/大学/上海交通大学) for indexing.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import jieba

DATA = Path(__file__).parent / "data"
_lock = threading.Lock()


@lru_cache(maxsize=1)
def tokenizer() -> jieba.Tokenizer:
    """The shared tokenizer; jieba caches its dictionary on disk, so a second start is fast."""
    with _lock:
        jieba.setLogLevel(logging.WARNING)
        tk = jieba.Tokenizer()
        tk.tmp_dir = os.environ.get("APPEALBOT_JIEBA_CACHE_DIR") or None
        tk.initialize()
        with open(DATA / "userdict.txt", "rb") as f:  # jieba leaks the handle when given a path
            tk.load_userdict(f)
        return tk


@lru_cache(maxsize=1)
def synonyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in (DATA / "synonyms.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        canonical, variants = line.split("\t", 1)
        for variant in variants.split(","):
            if variant.strip():
                table[variant.strip()] = canonical.strip()
        tokenizer().add_word(canonical.strip(), 2000)
        for variant in variants.split(","):
            if variant.strip():
                tokenizer().add_word(variant.strip(), 2000)
    return table


def _normalise(words) -> list[str]:
    table = synonyms()
    out = []
    for w in words:
        w = w.strip().lower()
        if w:
            out.append(table.get(w, w))
    return out


def cut(text: str) -> list[str]:
    synonyms()  # make sure variants are in the dictionary before cutting
    return _normalise(tokenizer().lcut(text or "", HMM=True))


def cut_for_search(text: str) -> list[str]:
    synonyms()
    return _normalise(tokenizer().lcut_for_search(text or "", HMM=True))


def warm_up() -> None:
    """Load the dictionary now (before workers fork), not on the first request."""
    cut("预热")
