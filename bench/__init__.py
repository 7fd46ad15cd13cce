"""Benchmarks (not timed tests): `python -m bench` runs the standard scale set."""
