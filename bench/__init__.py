"""Benchmark scripts: speed and memory figures, printed, never run by the test suite.

``python3 bench/run.py`` runs them all and prints one table; see bench/RESULTS.md.
"""
