"""``tfs smoke``: the release gate. Checks that a live server serves the models the config says, at the versions
and labels it says, with the exported signatures, and gives the outputs persisted at export time over gRPC and
REST alike. ``plan`` decides what to expect, ``runner`` asks the server through the clients, ``checks`` judges,
``report`` writes the table, JUnit XML and JSON; ``cli`` is the click command.
"""

from __future__ import annotations

from toolkit.smoke.plan import ModelPlan, PlanError, Targets, host_model_dir, load_plans, resolve_targets
from toolkit.smoke.report import CheckResult, Report, Status
from toolkit.smoke.runner import SmokeOptions, SmokeRunner, run_smoke

__all__ = [
    "CheckResult",
    "ModelPlan",
    "PlanError",
    "Report",
    "SmokeOptions",
    "SmokeRunner",
    "Status",
    "Targets",
    "host_model_dir",
    "load_plans",
    "resolve_targets",
    "run_smoke",
]
