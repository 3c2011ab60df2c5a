"""A scenario's result: figures, targets, correctness checks; rendered as Markdown and
appended to docs/benchmarks.md (never rewritten: each run adds a section at the end)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass
class Figure:
    name: str
    value: str
    ratio: str = ""  # to the ceiling, when the figure is a rate
    target: str = ""  # the target and whether it was met


@dataclass
class Check:
    name: str
    expected: object
    actual: object
    ok: bool


@dataclass
class Report:
    scenario: str
    title: str
    scale: float
    command: str
    machine: dict[str, str | int]
    settings: str = ""
    conditions: str = ""
    ceiling: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)
    date: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def check(self, name: str, expected: object, actual: object, ok: bool | None = None) -> bool:
        passed = (expected == actual) if ok is None else ok
        self.checks.append(Check(name, expected, actual, passed))
        return passed

    @property
    def correct(self) -> bool:
        return all(c.ok for c in self.checks)

    def markdown(self) -> str:
        m = self.machine
        lines = [
            f"### ({self.scenario}) {self.title} — scale {self.scale:g} — {self.date}",
            "",
            f"- Command: `{self.command}`",
            f"- Machine: {m['nproc']} x {m['model']}, {m['ram_gib']} GiB RAM; Linux {m['kernel']}, "
            f"Python {m['python']}"
            + "".join(f", {k} {m[k]}" for k in ("postgres", "redis") if k in m)
            + (f"; load average {m['loadavg']} at the start" if "loadavg" in m else ""),
        ]
        if self.settings:
            lines.append(f"- Load: {self.settings}")
        if self.conditions:
            lines.append(f"- Conditions: {self.conditions}")
        for c in self.ceiling:
            lines.append(f"- Ceiling: {c}")
        lines += ["", "| figure | value | vs ceiling | target |", "|---|---|---|---|"]
        lines += [f"| {f.name} | {f.value} | {f.ratio} | {f.target} |" for f in self.figures]
        verdict = "all correct" if self.correct else "**FAILED**"
        lines += ["", f"Correctness ({verdict}):", ""]
        lines += [
            f"- {'✅' if c.ok else '❌'} {c.name}: expected {_fmt(c.expected)}, got {_fmt(c.actual)}"
            for c in self.checks
        ]
        if self.notes:
            lines += [""] + [f"> {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def append_to(self, path: Path = DOC) -> None:
        text = path.read_text() if path.exists() else ""
        if text and not text.endswith("\n\n"):
            text += "\n" if text.endswith("\n") else "\n\n"
        path.write_text(text + self.markdown() + "\n")

    def save_json(self, path: Path) -> None:
        path.write_bytes(msgspec.json.format(msgspec.json.encode(self), indent=2))


def _fmt(v: object) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, tuple | list):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return str(v)


def num(v: float | int | None, digits: int = 0) -> str:
    if v is None:
        return "n/a"
    if digits == 0:
        return f"{round(v):,}"
    return f"{v:,.{digits}f}"


def ms(v: float | int | None) -> str:
    return "n/a" if v is None else (f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms")


def pct(a: float | None, b: float | None) -> str:
    if not a or not b:
        return ""
    return f"{100 * a / b:.1f}%"


def target(ok: bool | None, text: str) -> str:
    if ok is None:
        return text
    return f"{text} {'✅' if ok else '❌'}"
