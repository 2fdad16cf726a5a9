"""Checks that keep the documents true: the README runs as written, the examples run
against real servers, the Dockerfile's settings start, diagrams render, benchmarks run.
"""
