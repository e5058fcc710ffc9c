"""Benchmarks and data generators. Not part of the test suite: run them by hand (see README.md)."""
