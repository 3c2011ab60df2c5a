"""Load scenarios: `python -m bench.run <scenario> --scale 1|0.1|0.01`; see docs/benchmarks.md."""
