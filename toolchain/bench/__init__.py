"""`invoke bench`: FP32 vs INT8 on the same data and machine, interleaved, stable, recorded.

- schedule: the interleaving plan (pure)
- stability: when a series of measurement windows is stable (pure rule + loop)
- gates, compare: pass/fail thresholds and the change against an earlier run (pure)
- report: the BenchReport and its files (bench.json, .md, .csv, .png)
- provenance: what machine, libraries, models and data produced the numbers
- run: the orchestration (`run_bench`)
"""
