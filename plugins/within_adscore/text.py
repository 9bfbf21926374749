"""Text inputs of the ad-score model: tokens for the network, statistics for trees."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

import numpy as np

PAD, UNKNOWN, EMPTY = 0, 1, 2
SPECIAL_TOKENS = ["<pad>", "<unk>", "<empty>"]

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[A-Za-z0-9']+")
_SECOND_PERSON = {"you", "your", "you're", "yours", "yourself"}


def tokenize(text: str) -> list[str]:
    """Lower-case words, numbers and ``!``/``?``, with HTML tags removed."""
    return _TOKEN.findall(_TAG.sub(" ", text).lower())


class Vocabulary:
    """Token to index map shared by every text column; saved as JSON."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, texts: Iterable[str], *, min_count: int, max_size: int) -> "Vocabulary":
        counts = Counter(token for text in texts for token in set(tokenize(text)))
        frequent = [t for t, n in counts.most_common() if n >= min_count]
        # most_common breaks ties by first appearance; sort ties by token instead so
        # the same data always gives the same vocabulary.
        frequent.sort(key=lambda t: (-counts[t], t))
        return cls(SPECIAL_TOKENS + frequent[: max(0, max_size - len(SPECIAL_TOKENS))])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, texts: Iterable[str], max_tokens: int) -> np.ndarray:
        """Token ids, padded with 0 to ``max_tokens``; empty text gets ``<empty>``.

        An empty or missing text is a real input (an ad without an excerpt), so it
        has its own token rather than an all-padding row the attention can't pool.
        """
        texts = list(texts)
        ids = np.zeros((len(texts), max_tokens), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = tokenize(text)[:max_tokens]
            if not tokens:
                ids[row, 0] = EMPTY
                continue
            ids[row, : len(tokens)] = [self.index.get(t, UNKNOWN) for t in tokens]
        return ids

    def to_json(self) -> dict:
        return {"tokens": self.tokens}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        return cls(list(data["tokens"]))


TEXT_STATISTICS = ("chars", "words", "mean_word_length", "upper_share", "digits",
                   "question", "exclamation", "quote", "starts_with_number",
                   "second_person", "colon")


def text_statistics(texts: Iterable[str]) -> np.ndarray:
    """Per-text statistics (one column per name in ``TEXT_STATISTICS``)."""
    rows = []
    for text in texts:
        plain = _TAG.sub(" ", text).strip()
        words = _WORD.findall(plain)
        letters = [c for c in plain if c.isalpha()]
        lowered = {w.lower() for w in words}
        rows.append((
            len(plain),
            len(words),
            (sum(map(len, words)) / len(words)) if words else 0.0,
            (sum(c.isupper() for c in letters) / len(letters)) if letters else 0.0,
            sum(c.isdigit() for c in plain),
            float("?" in plain),
            float("!" in plain),
            float(any(q in plain for q in "\"“”'‘’")),
            float(bool(words) and words[0][0].isdigit()),
            float(len(lowered & _SECOND_PERSON)),
            float(":" in plain),
        ))
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(TEXT_STATISTICS))
