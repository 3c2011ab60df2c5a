"""Load scenarios of CrowdPass: `python -m bench.run <scenario> --scale 1|0.1|0.01`.

See docs/benchmarks.md for what each scenario does and what each figure means.
"""
