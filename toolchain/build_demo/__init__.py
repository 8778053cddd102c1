"""`invoke build-demo`: build demo/ (trt_clas, test_acc) against a Paddle Inference library.

plan.py decides (pure), run.py executes (cmake, ldd, the record for the cpp
runner), ldd.py reads and explains ldd's output. See docs/demo.md.
"""

from .ldd import BinaryCheck, check_binary, explain, parse_ldd
from .plan import DEMO_SOURCE, PROGRAMS, DemoBuildPlan, DemoBuildRequest, plan_demo_build
from .run import DemoBuildResult, build_demo, resolve_library

__all__ = ["BinaryCheck", "DEMO_SOURCE", "DemoBuildPlan", "DemoBuildRequest", "DemoBuildResult",
           "PROGRAMS", "build_demo", "check_binary", "explain", "parse_ldd", "plan_demo_build",
           "resolve_library"]
