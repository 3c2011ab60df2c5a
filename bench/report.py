"""A run's result: figures (each rate beside its ceiling), targets and correctness checks,
saved as JSON (bench/results/<time>-<scenario>-<scale>.json) and printed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import msgspec


@dataclass
class Figure:
    name: str
    value: str
    ratio: str = ""  # to the same run's ceiling, for a rate
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
    ceiling: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)
    date: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def check(self, name: str, expected: object, actual: object, ok: bool | None = None) -> bool:
        passed = (expected == actual) if ok is None else ok
        self.checks.append(Check(name, expected, actual, passed))
        return passed

    @property
    def correct(self) -> bool:
        return all(c.ok for c in self.checks)

    def summary(self) -> str:
        m = self.machine
        lines = [
            f"{self.title} at scale {self.scale:g}, {self.date}: `{self.command}` (commit {m['commit']})",
            f"{m['nproc']} x {m['model']}, PostgreSQL {m.get('postgres')}, Redis {m.get('redis')}, "
            f"load average {m['loadavg']}; {self.settings}",
            *(f"ceiling: {c}" for c in self.ceiling),
        ]
        lines += [
            f"  {f.name}: {' | '.join(filter(None, (f.value, f.ratio, f.target)))}" for f in self.figures
        ]
        lines += [
            f"{'✅' if c.ok else '❌'} {c.name}: expected {c.expected}, got {c.actual}" for c in self.checks
        ]
        return "\n".join([*lines, "all checks passed" if self.correct else "FAILED"])

    def save_json(self, path: Path) -> None:
        path.write_bytes(msgspec.json.format(msgspec.json.encode(self), indent=2) + b"\n")


def num(v: float | None) -> str:
    return "n/a" if v is None else f"{round(v):,}"


def ms(v: float | None) -> str:
    return "n/a" if v is None else (f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms")


def pct(a: float | None, b: float | None) -> str:
    return f"{100 * a / b:.1f}%" if a and b else ""


def target(ok: bool, text: str) -> str:
    return f"{text} {'✅' if ok else '❌'}"


def at_most(v: float | None, limit: float, text: str) -> str:
    return target(v is not None and v <= limit, text)
