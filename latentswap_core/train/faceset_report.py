"""What training says about its two facesets before it starts: face counts, poses, how much of the dst's poses the
src faces cover (``faceset_coverage.py``), the warnings, and in the model dir:

- ``faceset_report.json``: ``{"version", "resolution", "histogram_edges_degrees", "src": {...}, "dst": {...},
  "coverage": {...}, "warnings": [...]}``; per faceset its face count, crop size, yaw and pitch range (5th-95th
  percentile) and histograms; for coverage the covered fraction of dst faces, the tolerance in degrees and the
  yaw/pitch range of the uncovered dst faces. Rewritten on every run (``--resume`` included).
- ``pose_coverage.png``: yaw against pitch of every src and dst face, the uncovered dst faces marked, the covered
  share in the title.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentswap_core.faceset import load_faceset
from latentswap_core.faceset_coverage import (
    HISTOGRAM_EDGES,
    Coverage,
    FacesetPoses,
    coverage,
    describe_coverage,
    describe_poses,
    faceset_poses,
    percent,
    training_warnings,
)
from latentswap_core.io import write_bytes_atomically, write_text_atomically

REPORT_FILE = "faceset_report.json"
PLOT_FILE = "pose_coverage.png"
REPORT_VERSION = 1


@dataclass(frozen=True)
class FacesetReport:
    src: FacesetPoses
    dst: FacesetPoses
    coverage: Coverage
    resolution: int
    warnings: tuple[str, ...]

    def lines(self) -> list[str]:
        """The report for people: one line per faceset and one for the coverage (the warnings apart)."""
        return [f"{role} faceset: {poses.faces} faces at {poses.size} px; {describe_poses(poses)}"
                for role, poses in (("src", self.src), ("dst", self.dst))] + [describe_coverage(self.coverage)]

    def as_json(self) -> dict[str, Any]:
        return {"version": REPORT_VERSION, "resolution": self.resolution,
                "histogram_edges_degrees": HISTOGRAM_EDGES.tolist(), "src": self.src.as_json(),
                "dst": self.dst.as_json(), "coverage": self.coverage.as_json(), "warnings": list(self.warnings)}

    def write(self, model_dir: str | os.PathLike[str]) -> None:
        """``faceset_report.json`` and ``pose_coverage.png`` in ``model_dir``, each replaced atomically; left as they
        are when the report there is the same (a resumed run on unchanged facesets writes nothing)."""
        model_dir = Path(model_dir)
        text = json.dumps(self.as_json(), indent=1)
        report, plot = model_dir / REPORT_FILE, model_dir / PLOT_FILE
        if plot.is_file() and report.is_file() and report.read_text(encoding="utf-8") == text:
            return
        plot_pose_coverage(plot, self)
        write_text_atomically(report, text)  # last: a run stopped in between rewrites both next time


def faceset_report(src: str | os.PathLike[str], dst: str | os.PathLike[str], resolution: int) -> FacesetReport:
    """The report on training the ``src`` faceset onto ``dst`` at ``resolution`` px (refuses unusable facesets as
    ``load_faceset`` does)."""
    src_poses, dst_poses = faceset_poses(load_faceset(src)), faceset_poses(load_faceset(dst))
    covered = coverage(src_poses, dst_poses)
    return FacesetReport(src_poses, dst_poses, covered, resolution,
                         tuple(training_warnings(src_poses, dst_poses, resolution, covered)))


def plot_pose_coverage(path: Path, report: FacesetReport) -> None:
    """Yaw (x) against pitch (y) of the src and dst faces, uncovered dst faces as red crosses (drawn as
    ``report.plot_losses`` draws losses.png: Agg, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 5), dpi=100)
    axes = figure.add_subplot()
    src, dst, covered = report.src, report.dst, report.coverage.covered
    axes.scatter(dst.yaw[covered], dst.pitch[covered], s=10, alpha=0.5, color="tab:orange",
                 label=f"dst ({dst.faces} faces)")
    if (~covered).any():
        axes.scatter(dst.yaw[~covered], dst.pitch[~covered], s=18, marker="x", color="tab:red",
                     label=f"dst, uncovered ({report.coverage.uncovered})")
    axes.scatter(src.yaw, src.pitch, s=10, alpha=0.5, color="tab:blue", label=f"src ({src.faces} faces)")
    extreme = [abs(value) + 5.0 for poses in (src, dst) for angles in (poses.yaw, poses.pitch) for value in angles]
    reach = min(95.0, max([45.0, *extreme]))
    axes.set_xlim(-reach, reach)
    axes.set_ylim(reach, -reach)  # chin down (+ pitch) at the bottom, as in the image
    axes.set_aspect("equal")
    axes.set_xlabel("yaw (deg, + turned to the image's right)")
    axes.set_ylabel("pitch (deg, + chin down)")
    axes.set_title(f"src faces cover {percent(report.coverage.fraction)} of the dst poses\n"
                   f"(a src face within {report.coverage.tolerance:g} deg of yaw and pitch)", fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomically(path, buffer.getvalue())
