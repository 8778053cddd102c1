"""INT8 you can trust: per-layer comparison against FP32, NaN/Inf checks, the repair loop.

    finite    pure NaN/Inf checks over numpy arrays, one LabError naming model and image
    compare   per quantized op: error of its output against FP32 (max abs, relative, cosine)
    algos     calibration algorithm choices, `auto` = try each and keep the smallest drop
    repair    keep the most harmful ops in FP32 (bisection over the comparison's ranking)
"""
