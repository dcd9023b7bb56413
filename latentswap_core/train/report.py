"""What a training run shows: preview grids (PNG), the loss history (CSV) and its plot (PNG)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentswap_core.io import Image, write_bytes_atomically, write_image, write_text_atomically

PREVIEW_COLUMNS = ("src", "src reconstruction", "dst", "dst reconstruction", "swap")
LOSS_FIELDS = ("step", "loss", "latent", "mask", "commitment", "response", "pixel", "codebook_usage", "perplexity",
               "seconds")


def preview_grid(columns: list[torch.Tensor]) -> np.ndarray:
    """Tensors ``B x 3 x R x R`` in [0, 1], one per column -> an 8-bit ``B*R x len(columns)*R x 3`` grid."""
    rows = torch.cat([torch.cat(list(column.float().cpu().clamp(0, 1)), dim=1) for column in columns], dim=2)
    return (rows.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def write_preview(model_dir: Path, step: int, grid: np.ndarray) -> Path:
    """``previews/step_000123.png`` and the latest as ``preview.png``; returns the step's path."""
    folder = model_dir / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:06d}.png"
    image = Image(np.ascontiguousarray(grid), ("R", "G", "B"))
    write_image(path, image)
    write_bytes_atomically(model_dir / "preview.png", path.read_bytes())  # the same PNG, not encoded twice
    return path


def read_loss_history(path: Path, up_to_step: int) -> list[dict[str, Any]]:
    """Rows of ``losses.csv`` up to ``up_to_step`` (later rows belong to steps after the last checkpoint)."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle)
                if row.get("step", "").isdigit() and int(row["step"]) <= up_to_step]
    return [{key: _number(value) for key, value in row.items()} for row in rows]


def _number(text: str | None) -> float | int | str:
    try:
        return int(text) if text and text.isdigit() else float(text) if text else ""
    except ValueError:
        return text or ""


def write_loss_history(path: Path, rows: list[dict], fields: tuple[str, ...] = LOSS_FIELDS) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(path, buffer.getvalue())


def plot_losses(path: Path, rows: list[dict], curves: tuple[str, ...] = ("loss", "latent", "mask")) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.add_subplot()
    steps = [int(row["step"]) for row in rows]
    for name in curves:
        axes.plot(steps, [float(row[name]) if row.get(name) not in ("", None) else float("nan") for row in rows],
                  label=name, linewidth=1)
    pixel = [(int(row["step"]), float(row["pixel"])) for row in rows if row.get("pixel") not in ("", None)]
    if pixel:
        axes.plot(*zip(*pixel, strict=True), ".", label="pixel", markersize=3)
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.legend()
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomically(path, buffer.getvalue())
