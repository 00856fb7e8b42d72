"""Benchmarks, each a ``python -m bench.<name>`` run recording ratios against a baseline in the same run."""
