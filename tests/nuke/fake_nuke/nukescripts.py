"""A fake ``nukescripts`` for the Nuke plugin's tests: ``PythonPanel`` and ``registerPanel``, recorded."""

from __future__ import annotations

from typing import Any

import nuke

# What a PythonPanel records for the tests to read (see nuke.TEST_STATE)
TEST_STATE = ("shown",)
panels: list[PythonPanel] = []
registered: dict[str, Any] = {}


class PythonPanel:
    def __init__(self, title: str = "", id: str = "", scrollable: bool = True) -> None:
        self._title = title
        self._id = id
        self._knobs: list[nuke.Knob] = []
        self.shown = False
        self._node = nuke.Node("PanelNode", title or "panel", register=False)
        panels.append(self)

    def addKnob(self, knob: nuke.Knob) -> None:
        self._knobs.append(knob)
        self._node.addKnob(knob)

    def removeKnob(self, knob: nuke.Knob) -> None:
        self._knobs.remove(knob)
        self._node.removeKnob(knob)

    def knobs(self) -> dict[str, nuke.Knob]:
        return {knob.name(): knob for knob in self._knobs}

    def knobChanged(self, knob: nuke.Knob) -> None:
        pass

    def showModalDialog(self) -> bool:
        self.shown = True
        return True

    def show(self) -> None:
        self.shown = True

    def addToPane(self, pane: Any = None) -> None:
        """Nuke adds the panel to ``pane``, or without one to the pane of the command that runs (Pane menu);
        outside a pane context (a toolbar command) nothing shows."""
        if pane is not None or nuke._pane_context:
            self.shown = True

    def setMinimumSize(self, width: int, height: int) -> None:
        pass


def registerPanel(id: str, command: Any) -> None:
    registered[id] = command


def unregisterPanel(id: str, command: Any = None) -> None:
    registered.pop(id, None)


def reset() -> None:
    del panels[:]
    registered.clear()
