"""Writes bench/RESULTS.md from the latest raw results (bench/results/*-latest.json); bench/run.py calls it.

.venv/bin/python bench/report.py
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
#: The measured lanes: this service with each token, then the peers.
PEERS = ("jamsos", "jamsos-pii", "postgraphile", "postgraphile5", "baseline")
NAMES = {
    "jamsos": "this service, masked token",
    "jamsos-pii": "this service, pii:read token",
    "postgraphile": "PostGraphile 4",
    "postgraphile5": "PostGraphile 5",
    "baseline": "hand-written SQL + orjson",
}
SHORT = {"jamsos": "ours", "jamsos-pii": "ours pii", "postgraphile": "PG4", "postgraphile5": "PG5", "baseline": "hand"}
#: The ratios printed per row: (numerator lane, denominator lane).
RATIOS = (
    ("jamsos", "postgraphile5"),
    ("jamsos-pii", "postgraphile5"),
    ("jamsos", "postgraphile"),
    ("jamsos-pii", "jamsos"),
    ("jamsos", "baseline"),
)
SCENARIO_TEXT = {
    "S1": "100 participants of 52.03 with region, programmes and 3 claims each (no PostGraphile 5 twin: it exposes "
    "no relation through the composite foreign key of participant_programs)",
    "S1n": "S1 without programmes",
    "S2": "one participant by membership number with region and 10 claims",
    "S3": "`_entities` with 100 Participant representations (PostGraphile: 100 aliased lookups)",
    "S4": "mix: 80 % S2, 15 % S1, 5 % submitClaim (this service only)",
}


def load(kind: str) -> dict[str, Any] | None:
    path = RESULTS / f"{kind}-latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def meta_line(meta: dict[str, Any]) -> str:
    load_avg = ", ".join(str(x) for x in meta.get("load_average_before", [])) or "not recorded"
    note = f" · {meta['note']}" if meta.get("note") else ""
    return note.join(
        (
            f"{meta['date']} · {meta['cores']} cores · Python {meta['python']} · load average before the run "
            f"{load_avg} · `{meta['command']}` · {meta.get('duration_s')} s per run, "
            f"{meta.get('rounds', 1)} round(s), median over rounds",
            "",
        )
    )


def compare_section(data: dict[str, Any]) -> list[str]:
    grouped: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in data["results"]:
        grouped[(row["scenario"], row["concurrency"], row["peer"])].append(row)
    meta = data["meta"]
    size = f" — {meta['size']} data set, {meta['participants']:,} participants" if meta.get("participants") else ""
    out = [f"## Side by side{size}", "", meta_line(meta), ""]
    lanes = [p for p in PEERS if any(k[2] == p for k in grouped)]
    ratios = [(a, b) for a, b in RATIOS if a in lanes and b in lanes]
    out += [
        "| scenario | clients | "
        + " | ".join(f"{NAMES[p]} req/s (p50 / p99 ms)" for p in lanes)
        + " | "
        + " | ".join(f"{SHORT[a]} ÷ {SHORT[b]}" for a, b in ratios)
        + " | errors ("
        + " / ".join(SHORT[p] for p in lanes)
        + ") | server CPU ms per request ("
        + " / ".join(SHORT[p] for p in lanes)
        + ") |",
        "|---|---:|" + "---:|" * (len(lanes) + len(ratios) + 2),
    ]
    scenarios = [s for s in SCENARIO_TEXT if any(k[0] == s for k in grouped)]
    concurrencies = sorted({k[1] for k in grouped})
    for scenario in scenarios:
        for c in concurrencies:
            cells, rps, errors, cpu = [], {}, [], []
            for peer in lanes:
                rows = grouped.get((scenario, c, peer))
                if not rows:
                    cells.append("—")
                    errors.append("—")
                    cpu.append("—")
                    continue
                cpus = [r["cpu_ms_per_request"] for r in rows if r.get("cpu_ms_per_request") is not None]
                cpu.append(f"{statistics.median(cpus):.2f}" if cpus else "—")
                rps[peer] = median(rows, "rps")
                cells.append(f"{rps[peer]:,.1f} ({median(rows, 'p50_ms'):,.1f} / {median(rows, 'p99_ms'):,.1f})")
                refused = sum(r.get("refused", 0) for r in rows)
                errors.append(str(sum(r["errors"] for r in rows)) + (f" ({refused:,} refused)" if refused else ""))
            if not rps:
                continue
            shown = [f"{rps[a] / rps[b]:.2f}x" if rps.get(a) and rps.get(b) else "—" for a, b in ratios]
            out.append(
                f"| {scenario} | {c} | {' | '.join(cells)} | {' | '.join(shown)} | {' / '.join(errors)} "
                f"| {' / '.join(cpu)} |"
            )
    out += ["", *(f"- **{s}**: {SCENARIO_TEXT[s]}" for s in scenarios), ""]
    return out


def steps_section(data: dict[str, Any]) -> list[str]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    order: list[str] = []
    for row in data["results"]:
        grouped[(row["step"], row["scenario"])].append(row)
        if row["step"] not in order:
            order.append(row["step"])
    out = ["## The changes one by one (this service, 8 clients)", "", meta_line(data["meta"]), ""]
    out += [
        "| configuration | S1 req/s | S1 p99 ms | S1 CPU ms/req | S2 req/s | S2 p99 ms | S2 CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for step in order:
        cells = []
        for scenario in ("S1", "S2"):
            rows = grouped.get((step, scenario), [])
            cpus = [r["cpu_ms_per_request"] for r in rows if r.get("cpu_ms_per_request") is not None]
            cpu = f"{statistics.median(cpus):.2f}" if cpus else "—"
            cells += [f"{median(rows, 'rps'):,.1f}", f"{median(rows, 'p99_ms'):,.1f}", cpu] if rows else ["—"] * 3
        out.append(f"| {step} | {' | '.join(cells)} |")
    out.append("")
    return out


def scale_section(data: dict[str, Any]) -> list[str]:
    out = ["## Scale curve (8 clients)", "", meta_line(data["meta"]), ""]
    grouped: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    for row in data["results"]:
        grouped[(row["size"], row["scenario"])][row["peer"]] = row
        sizes[row["size"]] = row["participants"]
    lanes = [p for p in PEERS if any(p in peers for peers in grouped.values())]
    out += [
        "| size | participants | scenario | "
        + " | ".join(f"{NAMES[p]} req/s (p99 ms, CPU ms/req)" for p in lanes)
        + " |",
        "|---|---:|---|" + "---:|" * len(lanes),
    ]
    for size in sorted(sizes, key=sizes.__getitem__):
        for scenario in ("S1", "S1n", "S2"):
            peers = grouped.get((size, scenario))
            if not peers:
                continue
            cells = [
                f"{peers[p]['rps']:,.1f} ({peers[p]['p99_ms']:,.1f}, {peers[p].get('cpu_ms_per_request')})"
                if p in peers
                else "—"
                for p in lanes
            ]
            out.append(f"| {size} | {sizes[size]:,} | {scenario} | {' | '.join(cells)} |")
    out.append("")
    return out


def main() -> None:
    lines = [
        "# Benchmark results",
        "",
        "Generated by `bench/report.py` from `bench/results/*-latest.json` (raw runs beside them); how to run and",
        "how to read them: bench/README.md. Each server is one process on the same machine and database; `wrk -t1`",
        "drives it from another process. Errors are non-200 answers, GraphQL errors and socket errors/timeouts;",
        "writes the domain refused in their payload (S4's claims that the rules turn down) are counted apart.",
        "",
    ]
    for kind, section in (("compare", compare_section), ("steps", steps_section), ("scale", scale_section)):
        data = load(kind)
        if data is not None:
            lines += section(data)
    # Flame graphs are written beside this file by `bench/run.py --flame` and kept out of git (they are
    # large and only mean something next to the run that made them), so the page names the command only.
    lines += [
        "## Flame graphs",
        "",
        "`.venv/bin/python bench/run.py --flame` writes a py-spy flame graph per scenario (this service, 8",
        "clients) to `bench/flame-S*.svg`; they are not kept in git.",
        "",
    ]
    notes = BENCH / "RESULTS.notes.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    (BENCH / "RESULTS.md").write_text("\n".join(lines))
    print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
