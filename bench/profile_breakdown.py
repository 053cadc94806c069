"""Where a server's Python time goes, by layer, from py-spy's raw output (``py-spy record --format raw``).

Each sample is one stack (``frame;frame;…;leaf count``, root first). A sample belongs to the layer of its
innermost frame that names one (walking from the leaf towards the root): a socket write inside asyncpg
inside the fast lane is the driver's time, a log record formatted inside the request-log middleware is the
request log's. The table answers "what would have to get cheaper" rather than "who called it".

    .venv/bin/python bench/profile_breakdown.py bench/profile-S2.txt
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

#: (layer, substrings of a frame's ``function (file:line)`` text), the first match wins per frame.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("asyncpg: send the statement, read its answer", ("asyncpg/",)),
    ("SQLAlchemy: pool checkout and return, connection wrapper", ("sqlalchemy/", "greenlet")),
    ("uvicorn: HTTP parsing and socket writes", ("uvicorn/", "httptools")),
    ("token check, revocation list, cost budget", ("auth/", "joserfc/", "cryptography/")),
    ("request log line and metrics", ("api/observe.py", "logging/", "prometheus")),
    ("GraphQL variable coercion (graphql-core)", ("graphql/",)),
    ("compiled plan and fast lane (this service's Python)", ("schema/", "api/fast_reads.py", "api/graphql.py")),
    ("Starlette middleware, routing, request and response objects", ("starlette/", "api/middleware.py")),
    ("event loop", ("asyncio/", "uvloop", "selectors.py")),
]
OTHER = "other"


def layer_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        for layer, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return layer
    return OTHER


def breakdown(raw: str) -> tuple[Counter[str], Counter[str], int]:
    """Samples per layer, samples per leaf frame (self time), total samples."""
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        stack = stack_text.split(";")
        layers[layer_of(stack)] += count
        leaves[stack[-1]] += count
        total += count
    return layers, leaves, total


def report(raw: str, top: int = 15) -> str:
    layers, leaves, total = breakdown(raw)
    lines = [f"{total:,} samples", "", "| layer | share of samples |", "|---|---:|"]
    lines += [f"| {layer} | {100 * n / total:.1f} % |" for layer, n in layers.most_common()]
    lines += ["", f"Top {top} frames by self time:", ""]
    lines += [f"- {100 * n / total:.1f} % {frame}" for frame, n in leaves.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1]).read_text()))
