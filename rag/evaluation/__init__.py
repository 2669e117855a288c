"""Evaluation harness: `python -m rag eval DATASET [--corpus DIR] [--json OUT]`."""
