"""Hand-run benchmarks: ``python -m benchmarks.NAME [--quick]`` (see README.md)."""
