"""The training panel (LatentSwap > Train Model..., and the Pane menu): footage in, a model folder out.

Start extracts a faceset from each footage (``latentswap extract``; a folder that already is a faceset is used
as it is), then trains (``latentswap train``); Resume continues the model folder's run; Stop ends the running
job (the engine saves and stops, like Ctrl-C). Progress, the loss curve, the latest preview image and a log are
shown on the panel while training runs; the jobs themselves run through ``jobs.run_job`` like the gizmo's.
"""

from __future__ import annotations

import os

import nuke
import nukescripts

from nuke_plugin import engine, jobs
from nuke_plugin.loss_curve import LossCurve, preview_html

PANEL_ID = "uk.co.latentswap.TrainPanel"
# The engine's lists and defaults, which the plugin cannot import: tests/nuke/test_nuke_gizmo_file.py compares them.
CODECS = ("taef2", "pixel", "sd-vae")  # the first is latentswap train's default
RESOLUTIONS = ("128", "192", "256", "320", "384", "448", "512")
DEFAULT_RESOLUTION = "256"
BUDGETS = ("steps", "minutes")
_LOG_LINES = 200


def is_faceset(path):
    return os.path.isfile(os.path.join(path, "faceset.json"))


def extract_arguments(footage, faceset, size):
    return ["extract", footage, "-o", faceset, "--size", str(int(size))]


def train_arguments(src, dst, model_dir, resolution, codec, budget, amount, consent, resume=False):
    """``latentswap train`` arguments; ``budget`` is ``steps`` (``amount`` steps) or ``minutes``."""
    args = ["train", "--src", src, "--dst", dst, "-o", model_dir, "--resolution", str(int(resolution)),
            "--codec", codec]
    if budget == "minutes":
        args += ["--minutes", f"{float(amount):g}"]
    else:
        args += ["--steps", str(int(amount))]
    if consent:
        args += ["--consent", consent]
    if resume:
        args.append("--resume")
    return args


class TrainPanel(nukescripts.PythonPanel):
    def __init__(self):
        nukescripts.PythonPanel.__init__(self, "LatentSwap Training", PANEL_ID)
        self.src = nuke.File_Knob("src", "source footage")
        self.src.setTooltip("the face to put in: a plate, a movie, a folder of photos or a faceset folder")
        self.dst = nuke.File_Knob("dst", "target footage")
        self.dst.setTooltip("the face to replace: a plate, a movie, a folder of photos or a faceset folder")
        self.workdir = nuke.File_Knob("workdir", "work folder")
        self.workdir.setTooltip("facesets/ and model/ are written here")
        self.resolution = nuke.Enumeration_Knob("resolution", "resolution", list(RESOLUTIONS))
        self.codec = nuke.Enumeration_Knob("codec", "codec", list(CODECS))
        self.budget = nuke.Enumeration_Knob("budget", "train for", list(BUDGETS))
        self.steps = nuke.Int_Knob("steps", "steps")
        self.minutes = nuke.Double_Knob("minutes", "minutes")
        self.consent = nuke.String_Knob("consent", "consent")
        self.consent.setTooltip("who agreed to these faces being used (a reference, e.g. REF-123)")
        self.engine_path = nuke.File_Knob("engine", "engine")
        self.start_button = nuke.PyScript_Knob("start", "Start")
        self.stop_button = nuke.PyScript_Knob("stop", "Stop")
        self.resume_button = nuke.PyScript_Knob("resume", "Resume")
        self.progress = nuke.Text_Knob("progress", "progress", "idle")
        self.loss_curve = nuke.Text_Knob("loss_curve", "loss", "")
        self.preview = nuke.Text_Knob("preview", "latest preview", "")
        self.log = nuke.Multiline_Eval_String_Knob("log", "log")
        for knob in (self.src, self.dst, self.workdir, self.resolution, self.codec, self.budget, self.steps,
                     self.minutes, self.consent, self.engine_path, self.start_button, self.stop_button,
                     self.resume_button, self.progress, self.loss_curve, self.preview, self.log):
            self.addKnob(knob)
        self.resolution.setValue(DEFAULT_RESOLUTION)
        self.steps.setValue(20000)
        self.minutes.setValue(60)
        self.job = None
        self.stopped = False
        self.lines = []
        self.losses = LossCurve()

    # paths
    def model_dir(self):
        return os.path.join(self._workdir(), "model")

    def _workdir(self):
        folder = str(self.workdir.value()).strip()
        if not folder:
            raise jobs.JobError("set the work folder (facesets and the model are written there)")
        return os.path.expanduser(folder)

    def _faceset(self, knob, role):
        footage = os.path.expanduser(str(knob.value()).strip())
        if not footage:
            raise jobs.JobError(f"set the {knob.label()}")
        if is_faceset(footage):
            return footage, None
        faceset = os.path.join(self._workdir(), "facesets", role)
        return faceset, extract_arguments(footage, faceset, self.resolution.value())

    def _train_args(self, src, dst, resume):
        amount = self.minutes.value() if self.budget.value() == "minutes" else self.steps.value()
        return train_arguments(src, dst, self.model_dir(), self.resolution.value(), self.codec.value(),
                               self.budget.value(), amount, str(self.consent.value()).strip(), resume)

    # the steps of a run
    def plan(self, resume=False):
        """The engine commands Start (or Resume) runs, in order."""
        src, extract_src = self._faceset(self.src, "src")
        dst, extract_dst = self._faceset(self.dst, "dst")
        steps = [] if resume else [args for args in (extract_src, extract_dst) if args]
        return steps + [self._train_args(src, dst, resume)]

    def start(self, resume=False):
        if self.job is not None and not self.job.finished.is_set():
            self.say("a job is running: Stop it first")
            return
        try:
            prefix = engine.find_engine(str(self.engine_path.value()).strip() or None)
            steps = self.plan(resume)
        except (engine.EngineError, jobs.JobError) as error:
            self.say(f"error: {error}")
            if nuke.GUI:
                nuke.message(f"LatentSwap training: {error}")
            return
        self.stopped = False
        self.losses.clear()
        self.loss_curve.setValue("")
        self._run_steps(prefix, steps)

    def _run_steps(self, prefix, steps):
        if not steps or self.stopped:
            self.progress.setValue("stopped" if self.stopped else "done: model in " + self.model_dir())
            return
        args, rest = steps[0], steps[1:]
        self.say("$ latentswap " + " ".join(args))
        try:
            self.job = jobs.run_job(prefix, args, "LatentSwap " + args[0], on_event=self.on_event,
                                    on_done=lambda: self._run_steps(prefix, rest), on_error=self.on_error)
        except jobs.JobError as error:  # terminal mode: the job already ended
            self.on_error(str(error))

    def stop(self):
        self.stopped = True
        if self.job is not None:
            self.job.cancel()
            self.say("stopping...")

    # feedback
    def on_event(self, event):
        text = jobs.describe(event)
        if event.get("event") == "progress" and text:
            self.progress.setValue(text + (f"  loss {event['loss']}" if "loss" in event else ""))
        elif text:
            self.say(text)
        if event.get("event") == "progress" and "loss" in event and "step" in event:
            self.losses.add(event["step"], event["loss"])
            self.loss_curve.setValue(self.losses.text())
        if event.get("preview"):
            self.preview.setValue(preview_html(event["preview"]))

    def on_error(self, message):
        self.progress.setValue("failed")
        self.say("error: " + message)

    def say(self, line):
        self.lines.append(line)
        del self.lines[:-_LOG_LINES]
        self.log.setValue("\n".join(self.lines))

    def knobChanged(self, knob):
        if knob is self.start_button:
            self.start()
        elif knob is self.resume_button:
            self.start(resume=True)
        elif knob is self.stop_button:
            self.stop()


_panels = []  # type: list[TrainPanel]


def make_panel():
    panel = TrainPanel()
    _panels.append(panel)  # Nuke keeps only a weak hold on panels: keep them alive
    return panel


def show_panel():
    """LatentSwap > Train Model...: the panel beside the Properties bin, or floating where the layout has none
    (a toolbar command has no pane of its own, so ``addToPane()`` alone would show nothing)."""
    panel = make_panel()
    pane = nuke.getPaneFor("Properties.1")
    if pane is not None:
        panel.addToPane(pane)
    else:
        panel.show()
    return panel


def register():
    """The panel on the Pane menu (Windows > Custom), so it can be docked and saved with a layout."""
    nukescripts.registerPanel(PANEL_ID, lambda: make_panel().addToPane())
