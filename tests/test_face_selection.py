"""Picking faces by track id or by person: one selection type and one pair of options for extract, swap and eval."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from latentswap_core.cli import build_parser, main
from latentswap_core.cli.arguments import face_selection
from latentswap_core.cli.swap import render_options
from latentswap_core.errors import SettingsError, TrackFileError
from latentswap_core.face_selection import FaceSelection


@dataclass
class Face:
    track_id: int
    person: int = -1


# Two people over a cut: person 0 is track 0 before the cut and track 2 after; person 1 is track 1.
SHOT = [Face(0, 0), Face(1, 1), Face(2, 0), Face(1, 1)]


def test_every_face_by_default() -> None:
    selection = FaceSelection()
    assert selection.everyone and all(selection.matches(face) for face in SHOT)
    selection.check([], "empty.track.json")  # nothing asked, nothing to refuse


def test_track_ids_and_people_pick_their_faces() -> None:
    by_track = FaceSelection(track_ids=(0, 1))
    assert [face.track_id for face in SHOT if by_track.matches(face)] == [0, 1, 1]
    by_person = FaceSelection(people=(0,))
    assert [face.track_id for face in SHOT if by_person.matches(face)] == [0, 2]  # across the cut
    assert not by_person.everyone and by_track.track_ids == (0, 1)
    assert FaceSelection(track_ids=[3, 1]).track_ids == (3, 1)  # any sequence is kept as a tuple


def test_both_ways_at_once_or_bad_ids_are_settings_errors() -> None:
    with pytest.raises(SettingsError, match="--track-id and --person both pick faces: give one of them"):
        FaceSelection(track_ids=(0,), people=(1,))
    with pytest.raises(SettingsError, match="--track-id -1: ids are whole numbers, 0 or more"):
        FaceSelection(track_ids=(-1,))
    with pytest.raises(SettingsError, match=r"--person \(none\)"):
        FaceSelection(people=())
    with pytest.raises(SettingsError, match="--person True"):
        FaceSelection(people=(True,))


def test_ids_not_in_the_track_are_refused_naming_those_there() -> None:
    FaceSelection(people=(0, 1)).check(SHOT, "sh010.track.json")
    FaceSelection(track_ids=(2,)).check(SHOT, "sh010.track.json")
    with pytest.raises(TrackFileError) as error:
        FaceSelection(people=(7,)).check(SHOT, "sh010.track.json")
    assert str(error.value) == "--person 7: not in sh010.track.json; people there: 0, 1"
    with pytest.raises(TrackFileError) as error:
        FaceSelection(track_ids=(9, 2, 5)).check(SHOT, "sh010.track.json")
    assert str(error.value) == "--track-id 5, 9: not in sh010.track.json; track ids there: 0, 1, 2"
    unassigned = [Face(0), Face(1)]  # tracked, but no people joined yet
    with pytest.raises(TrackFileError) as error:
        FaceSelection(people=(0,)).check(unassigned, "the track")
    assert str(error.value) == ("--person 0: not in the track; people there: none (no people are assigned in it: "
                                "pick faces with --track-id)")
    with pytest.raises(TrackFileError, match="track ids there: none$"):
        FaceSelection(track_ids=(0,)).check([], "the track")


@pytest.mark.parametrize("command", [
    ["extract", "plate.####.exr", "-o", "faceset"],
    ["swap", "plate.####.exr", "--model", "model", "-o", "swap.####.exr"],
    ["eval", "--plate", "plate.####.exr", "--swapped", "swap.####.exr", "--target", "faceset", "-o", "report"],
])
def test_extract_swap_and_eval_read_the_same_options(command: list[str]) -> None:
    parser = build_parser()
    assert face_selection(parser.parse_args(command)) == FaceSelection()
    args = parser.parse_args([*command, "--track-id", "0", "--track-id", "2"])
    assert face_selection(args) == FaceSelection(track_ids=(0, 2))
    assert face_selection(parser.parse_args([*command, "--person", "1"])) == FaceSelection(people=(1,))


@pytest.mark.parametrize("command", [
    ["extract", "plate.####.exr", "-o", "faceset"],
    ["swap", "plate.####.exr", "--model", "model", "-o", "swap.####.exr"],
    ["eval", "--plate", "plate.####.exr", "--swapped", "swap.####.exr", "--target", "faceset", "-o", "report"],
])
def test_both_options_together_are_one_line_and_exit_2(command: list[str], capsys) -> None:
    assert main([*command, "--track-id", "0", "--person", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latentswap: error: --track-id and --person both pick faces")


def test_a_negative_id_is_refused_by_the_parser(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["extract", "plate.####.exr", "-o", "faceset", "--person", "-1"])
    assert stopped.value.code == 2 and "'-1' is not an id" in capsys.readouterr().err


def test_swap_faces_is_a_hidden_alias_of_track_id(capsys) -> None:
    parser = build_parser()
    command = ["swap", "plate.####.exr", "--model", "model", "-o", "swap.####.exr"]
    old, new = render_options(parser.parse_args([*command, "--faces", "0"])), \
        render_options(parser.parse_args([*command, "--track-id", "0"]))
    assert old == new and new.faces == FaceSelection(track_ids=(0,))
    assert render_options(parser.parse_args([*command, "--faces", "0,2"])).faces.track_ids == (0, 2)
    assert render_options(parser.parse_args([*command, "--faces", "all"])).faces.everyone
    with pytest.raises(SettingsError, match="--faces '0,x' is not 'all'"):
        render_options(parser.parse_args([*command, "--faces", "0,x"]))
    with pytest.raises(SettingsError, match="both pick faces"):
        render_options(parser.parse_args([*command, "--faces", "0", "--person", "1"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["swap", "--help"])
    helped = capsys.readouterr().out
    assert "--track-id N" in helped and "--person P" in helped and "--faces" not in helped
