"""The training panel's live pictures, as text a Nuke Text_Knob shows (Qt rich text): the loss curve drawn in
Unicode block characters, and the latest preview image. Standard library only: no plotting in Nuke's Python."""

import html
import math

BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"  # eighths, lowest to full
CURVE_WIDTH = 60  # characters: about the panel's width
PREVIEW_WIDTH = 384  # pixels the preview is shown at


class LossCurve:
    """The losses of a run, step by step, as they arrive in progress events."""

    def __init__(self, width=CURVE_WIDTH):
        self.width = width
        self.points = []  # (step, loss)

    def add(self, step, loss):
        """Take one reported loss; a value that is not a finite number is dropped (the line says so)."""
        try:
            step, loss = int(step), float(loss)
        except (TypeError, ValueError):
            return
        if math.isfinite(loss):
            self.points.append((step, loss))

    def clear(self):
        del self.points[:]

    def text(self):
        """``▇▆▅▄▃▃▂▂▁▁  loss 0.0312 at step 4800 (lowest 0.0290)``, the curve on a log scale; "" before any loss."""
        if not self.points:
            return ""
        losses = [loss for _, loss in self.points]
        step, last = self.points[-1]
        columns = _columns(losses, self.width)
        logs = [math.log10(max(value, 1e-12)) for value in columns]
        low, high = min(logs), max(logs)
        span = high - low
        bars = "".join(BLOCKS[0 if span <= 0 else min(len(BLOCKS) - 1, int((value - low) / span * len(BLOCKS)))]
                       for value in logs)
        return f"{bars}  loss {last:.4g} at step {step} (lowest {min(losses):.4g})"


def _columns(values, width):
    """``values`` in at most ``width`` columns, each the mean of its share (in order)."""
    if len(values) <= width:
        return list(values)
    columns = []
    for column in range(width):
        start = column * len(values) // width
        stop = max(start + 1, (column + 1) * len(values) // width)
        share = values[start:stop]
        columns.append(sum(share) / len(share))
    return columns


def preview_html(path, width=PREVIEW_WIDTH):
    """A Text_Knob's rich text showing the image at ``path`` ``width`` pixels wide, with its name below; each
    preview is a new file (``previews/step_000123.png``), so Qt never shows a cached older one."""
    source = html.escape(str(path).replace("\\", "/"), quote=True)
    name = html.escape(str(path).replace("\\", "/").rsplit("/", 1)[-1])
    return f'<img src="{source}" width="{int(width)}"><br>{name}'
