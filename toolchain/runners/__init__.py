"""Runners: the cpp demo binaries and the in-process Python engine, one RunResult."""
