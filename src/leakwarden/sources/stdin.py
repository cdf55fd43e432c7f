"""Standard input as one source, read in overlapping blocks."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

from leakwarden.models import Chunk, Origin
from leakwarden.sources import chunks_from_stream


def stdin_chunks(stream: BinaryIO | None = None, label: str = "<stdin>") -> Iterator[Chunk]:
    yield from chunks_from_stream(stream or sys.stdin.buffer, Origin("stdin", path=label))
