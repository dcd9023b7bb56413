"""The report of an evaluation: ``summary.json``, per-frame plots, a contact sheet and ``index.html``, each
written atomically into the report folder."""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from latentswap_core.errors import OutputError
from latentswap_core.evaluate.run import Evaluation
from latentswap_core.io import atomic_path, write_text_atomically

# (title, per-frame keys drawn together, y label)
PLOTS = (
    ("identity", ("identity_to_target", "identity_to_source"), "dlib descriptor distance"),
    ("pose", ("pose_error", "yaw_error", "pitch_error", "roll_error"), "degrees"),
    ("expression", ("expression",), "landmark distance / inter-ocular"),
    ("fidelity", ("psnr",), "PSNR in the face (dB)"),
    ("ssim", ("ssim",), "SSIM in the face"),
    ("flicker", ("flicker",), "crop change, result minus plate"),
    ("jitter", ("jitter_plate", "jitter_result"), "landmark 2nd difference / inter-ocular"),
)
CONTACT_FRAMES = 4  # best and worst frames by identity distance to the target, each


REPORT_FILES = ("summary.json", "index.html", "contact_sheet.png")


def check_report_folder(folder: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, a folder that holds files other than an earlier report's: a user's index.html
    would be overwritten, and a plate's folder would then read as a sequence with extra images."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file; give a folder for the report")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "summary.json").is_file():
        raise OutputError(f"{folder}: holds other files; give an empty or new folder for the report (or the folder "
                          "of an earlier report, which is replaced)")
    return folder


def write_report(evaluation: Evaluation, folder: str | os.PathLike[str], inputs: dict[str, Any]) -> dict[str, Any]:
    """Write the report; returns the summary document (the content of ``summary.json``)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the report folder {folder}: {error.strerror}") from None
    document = {"inputs": inputs, **evaluation.summary, "messages": evaluation.messages,
                "frames": evaluation.frames}
    write_text_atomically(folder / "summary.json", json.dumps(_finite(document), indent=1) + "\n")
    plots = [name for name, keys, label in PLOTS if _plot(evaluation.frames, folder / f"{name}.png", name, keys, label)]
    sheet = _contact_sheet(evaluation, folder / "contact_sheet.png")
    write_text_atomically(folder / "index.html", _html(document, plots, sheet))
    return document


def _finite(value: Any) -> Any:
    """JSON without NaN or infinity (not valid JSON): they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def _plot(frames: list[dict[str, Any]], path: Path, title: str, keys: tuple[str, ...], label: str) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {key: [(row["frame"], row[key]) for row in frames if row.get(key) is not None] for key in keys}
    series = {key: points for key, points in series.items() if points}
    if not series:
        return False
    figure, axes = plt.subplots(figsize=(8, 2.6), dpi=100)
    for key, points in series.items():
        x, y = zip(*points, strict=True)
        axes.plot(x, y, marker=".", linewidth=1, label=key)
    if title == "identity":
        from latentswap_core.identity import SAME_PERSON_DISTANCE

        axes.axhline(SAME_PERSON_DISTANCE, color="grey", linestyle="--", linewidth=0.8, label="same person")
    axes.set_title(title)
    axes.set_xlabel("frame")
    axes.set_ylabel(label)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
    return True


def _contact_sheet(evaluation: Evaluation, path: Path) -> dict[str, list[int]] | None:
    """Rows of (plate crop | result crop) pairs: the worst frames by identity distance, then the best."""
    ranked = sorted((row["identity_to_target"], row["frame"]) for row in evaluation.frames
                    if row.get("identity_to_target") is not None and row["frame"] in evaluation.thumbnails)
    if not ranked:
        return None
    worst = [frame for _, frame in ranked[::-1][:CONTACT_FRAMES]]
    best = [frame for _, frame in ranked[:CONTACT_FRAMES]]
    rows = []
    for label, picks in (("worst", worst), ("best", best)):
        tiles = []
        for frame in picks:
            plate, result = evaluation.thumbnails[frame]
            tile = np.concatenate([plate, result], axis=1).copy()
            distance = next(d for d, f in ranked if f == frame)
            cv2.putText(tile, f"{label} {frame} d={distance:.2f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                        (255, 255, 0), 1, cv2.LINE_AA)
            tiles.append(tile)
        blank = np.zeros_like(tiles[0])
        tiles += [blank] * (CONTACT_FRAMES - len(tiles))
        rows.append(np.concatenate(tiles, axis=1))
    sheet = np.concatenate(rows, axis=0)
    with atomic_path(path) as temporary:
        if not cv2.imwrite(str(temporary), np.ascontiguousarray(sheet[:, :, ::-1])):
            raise OutputError(f"cannot write {path}")
    return {"worst": worst, "best": best}


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _html(document: dict[str, Any], plots: list[str], sheet: dict[str, list[int]] | None) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{_number(stats[key])}</td>"
                                                      for key in ("mean", "median", "worst", "count")) + "</tr>"
        for name, stats in document["metrics"].items())
    shot = [("identity retrieval rate", document.get("identity_retrieval_rate")),
            ("same-person distance", document.get("same_person_distance")),
            ("pixels changed outside the face (all frames)", document.get("changed_outside_total")),
            ("FID", (document.get("fid") or {}).get("value")),
            ("frames without a face", ", ".join(map(str, document.get("frames_without_face", []))) or "none")]
    shot_rows = "".join(f"<tr><td>{html.escape(name)}</td><td colspan=4>{_number(value)}</td></tr>"
                        for name, value in shot)
    inputs = "".join(f"<li><b>{html.escape(str(key))}</b>: {html.escape(str(value))}</li>"
                     for key, value in document["inputs"].items())
    messages = "".join(f"<li>{html.escape(text)}</li>" for text in document["messages"])
    images = "".join(f'<h3>{html.escape(name)}</h3><img src="{name}.png" alt="{name} per frame">' for name in plots)
    contact = ("<h2>Contact sheet</h2><p>Plate crop | result crop. Top row: the frames farthest from the target "
               f"identity ({', '.join(map(str, sheet['worst']))}); bottom row: the nearest "
               f"({', '.join(map(str, sheet['best']))}).</p><img src=\"contact_sheet.png\" alt=\"contact sheet\">"
               if sheet else "<p>No contact sheet: no frame had a face to describe.</p>")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>LatentSwap evaluation</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}</style></head>
<body><h1>LatentSwap evaluation</h1><ul>{inputs}</ul>
<h2>Summary</h2><table><tr><th>metric</th><th>mean</th><th>median</th><th>worst</th><th>frames</th></tr>
{rows}{shot_rows}</table>
{f"<h2>Notes</h2><ul>{messages}</ul>" if messages else ""}
<h2>Per frame</h2>{images}
{contact}
<p>Definitions: docs/evaluation.md. Per-frame values: summary.json.</p></body></html>
"""


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The headline figures of a report's summary (``write_report``'s result), one line each."""
    metrics = summary.get("metrics", {})

    def mean(key: str, unit: str = "", digits: int = 3) -> str:
        value = metrics.get(key, {}).get("mean")
        return "n/a" if value is None else f"{value:.{digits}f}{unit}"

    rate = summary.get("identity_retrieval_rate")
    return [
        f"identity distance to the target {mean('identity_to_target')}, to the source {mean('identity_to_source')} "
        f"(same person below {summary.get('same_person_distance', 0.6)}); recognised as the target in "
        f"{'n/a' if rate is None else f'{rate:.0%}'} of frames",
        f"pose error {mean('pose_error', ' deg', 2)}, expression {mean('expression')}, face PSNR "
        f"{mean('psnr', ' dB', 1)}, SSIM {mean('ssim')}",
        f"flicker {mean('flicker', '', 4)}, landmark jitter {mean('jitter_result', '', 4)} (plate "
        f"{mean('jitter_plate', '', 4)}); pixels changed outside the mask: {summary.get('changed_outside_total')}",
        f"codec grid {mean('grid_ratio', 'x', 2)} the plate's own (1x: none added), detail "
        f"{mean('detail_ratio', 'x', 2)} the plate's (below 1: blurred)",
    ]
