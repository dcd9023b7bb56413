"""Evaluation of a swap against its plate: identity, pose, expression, fidelity and temporal stability, per
frame and summarised, with an HTML report (``latentswap eval``; see docs/evaluation.md)."""

from latentswap_core.evaluate.report import summary_lines, write_report
from latentswap_core.evaluate.run import EvalOptions, Evaluation, evaluate_shot

__all__ = ["EvalOptions", "Evaluation", "evaluate_shot", "summary_lines", "write_report"]
