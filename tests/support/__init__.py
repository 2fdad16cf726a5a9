"""Helpers shared by the test suites (not fixtures: those live in each folder's conftest)."""

from pathlib import Path

# The repository's root: the README, the docs, the examples and the packages are here.
ROOT = Path(__file__).resolve().parents[2]
