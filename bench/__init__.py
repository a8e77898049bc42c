"""Benchmarks (`make bench`). The harness grows with the benchmark issue."""
