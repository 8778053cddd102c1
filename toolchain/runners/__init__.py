"""Runners: the C++ demo binaries and the in-process Python engine, one RunResult.

- run: run_latency / run_accuracy (runner choice, plan, dataset checks)
- select: which runner and why; configplan: the Config calls per version
- cpp / python_engine: the two runners; result: RunResult and its stats
"""
