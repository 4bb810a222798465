"""Benchmarks for flowbot: `python benchmarks/turns.py` (see its docstring)."""
