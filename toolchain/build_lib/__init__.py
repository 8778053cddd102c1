"""`invoke build-lib`: build Paddle Inference (with TensorRT) from source.

facts.py     the per-era facts and shipped combinations (recipes/*.toml)
request.py   flags + settings + environment -> BuildRequest
plan.py      plan_build(request, facts) -> BuildPlan (pure); render_script(plan)
preflight.py checks before anything runs, all reported together
executor.py  runs the plan (git, cmake, make), logs, resumes, validates, registers
"""

from .facts import BuildFacts, Era, load_build_facts, version_from_ref
from .plan import BuildPlan, BuildRequest, Step, plan_build, render_script

__all__ = ["BuildFacts", "Era", "load_build_facts", "version_from_ref", "BuildPlan",
           "BuildRequest", "Step", "plan_build", "render_script"]
