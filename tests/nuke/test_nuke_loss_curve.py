"""The training panel's loss curve and preview, as the Text_Knobs show them."""

from __future__ import annotations

from nuke_plugin.loss_curve import BLOCKS, LossCurve, preview_html


def test_a_falling_loss_draws_a_falling_curve_on_a_log_scale() -> None:
    curve = LossCurve(width=10)
    assert curve.text() == ""
    for step in range(1, 101):
        curve.add(step, 1.0 / step)  # two decades down
    bars, rest = curve.text().split("  ", 1)
    assert len(bars) == 10 and set(bars) <= set(BLOCKS)
    heights = [BLOCKS.index(bar) for bar in bars]
    assert heights[0] == len(BLOCKS) - 1 and heights[-1] == 0 and heights == sorted(heights, reverse=True)
    assert rest == "loss 0.01 at step 100 (lowest 0.01)"


def test_a_few_points_are_drawn_one_column_each_and_bad_values_are_dropped() -> None:
    curve = LossCurve(width=60)
    for step, loss in ((10, 0.5), (20, "nan"), (30, None), (40, 0.25), (50, "0.125")):
        curve.add(step, loss)
    bars, rest = curve.text().split("  ", 1)
    assert len(bars) == 3 and bars[0] == BLOCKS[-1] and bars[-1] == BLOCKS[0]
    assert rest == "loss 0.125 at step 50 (lowest 0.125)"
    flat = LossCurve()
    flat.add(1, 0.3)
    flat.add(2, 0.3)
    assert flat.text().startswith(BLOCKS[0] * 2 + "  loss 0.3")


def test_the_preview_is_an_image_tag_with_its_path_escaped() -> None:
    text = preview_html('C:\\shots\\a "b" & c\\previews\\step_000100.png')
    assert text == ('<img src="C:/shots/a &quot;b&quot; &amp; c/previews/step_000100.png" width="384">'
                    '<br>step_000100.png')


def test_the_panel_shows_the_curve_and_the_preview_as_training_reports(fake_nuke) -> None:
    import nuke_plugin.panel as panel

    window = panel.make_panel()
    window.on_event({"event": "progress", "task": "train", "done": 100, "total": 1000, "step": 100, "loss": 0.5})
    window.on_event({"event": "progress", "task": "train", "done": 200, "total": 1000, "step": 200, "loss": 0.25,
                     "preview": "/work/model/previews/step_000200.png"})
    assert window.loss_curve.value().endswith("loss 0.25 at step 200 (lowest 0.25)")
    assert window.loss_curve.value()[:2] == BLOCKS[-1] + BLOCKS[0]
    assert window.preview.value().startswith('<img src="/work/model/previews/step_000200.png"')
    assert window.progress.value() == "train: 200/1000  loss 0.25"
