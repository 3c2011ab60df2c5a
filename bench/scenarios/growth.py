"""(d) Growth: (a) and (b) at several sizes, summarised in one table of how time and
memory grow with the size (each run also appends its own full section)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.harness import Options
from bench.report import DOC, Report, num


def _get(raw: dict[str, Any], *path: str) -> Any:  # a number, a dict or None
    cur: Any = raw
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _row(r: Report) -> str:
    raw = r.raw
    mem = _get(raw, "memory", "backend_mib")
    api = _get(raw, "memory", "api")
    ok = "✅" if r.correct else "❌"
    if r.scenario == "a":
        size = f"{num(_get(raw, 'reads'))} reads + {num(_get(raw, 'clients'))} purchases"
        rate = f"{num(_get(raw, 'read', 'rate'))} / {num(_get(raw, 'purchase', 'rate'))} req/s"
        secs = (_get(raw, "read", "seconds") or 0) + (_get(raw, "purchase", "seconds") or 0)
        p99 = f"{_get(raw, 'read', 'latency_ms', 'p99')} / {_get(raw, 'purchase', 'latency_ms', 'p99')} ms"
        cells = [size, f"{secs:.1f} s", rate, p99, f"{mem:.0f}", f"{api:.0f}", ok]
        return f"| (a) challenge | {r.scale:g} | " + " | ".join(cells) + " |"
    size = f"{num(_get(raw, 'attempts'))} attempts, {num(_get(raw, 'tickets'))} tickets"
    decided = raw.get("decided_s")
    secs = f"{_get(raw, 'wrk', 'seconds'):.1f} s load, decided in {decided:.1f} s" if decided else "n/a"
    rate = f"{num(_get(raw, 'wrk', 'rate'))} req/s"
    p99 = f"{_get(raw, 'wrk', 'latency_ms', 'p99')} ms"
    return (
        f"| (b) flash sale | {r.scale:g} | {size} | {secs} | {rate} | {p99} | {mem:.0f} | {api:.0f} | {ok} |"
    )


def table(reports: list[Report]) -> str:
    lines = [
        "| scenario | scale | size | time | rate | p99 | backend PSS MiB | API PSS MiB | correct |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in reports]
    return "\n".join(lines) + "\n"


def summarise(opts: Options, reports: list[Report]) -> str:
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = reports[0].machine if reports else {}
    text = (
        f"### (d) growth — {date}\n\n"
        f"- Command: `{opts.command}`\n"
        f"- Machine: {machine.get('nproc')} x {machine.get('model')}, {machine.get('ram_gib')} GiB RAM\n"
        + (f"- Conditions: {opts.note}\n" if opts.note else "")
        + "\n"
        + table(reports)
    )
    print(text)
    if opts.record:
        body = DOC.read_text() if DOC.exists() else ""
        if body and not body.endswith("\n\n"):
            body += "\n"
        DOC.write_text(body + text + "\n")
    return text
