"""The bad-input corpus (tools/bad_inputs.py) through the real ``latentswap`` command, two at a time.

Every case: no traceback, the expected exit code (0: a sensible result; 2: refused), a refusal is one line
``latentswap: error: ...`` naming the file or frame at fault, nothing under the output's final name after a
refusal (finished frames of a sequence excepted: each is whole, and --skip-existing resumes), no hidden
partial file anywhere, and no file a shell would have made from a path.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import OpenImageIO as oiio
import pytest
from helpers import latentswap

from latentswap_core.errors import ImageError
from latentswap_core.io import read_image
from latentswap_core.io.atomic import PARTIAL_MARK
from latentswap_core.io.image import MAX_IMAGE_PIXELS, check_pixel_count

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import bad_inputs  # noqa: E402

COMMANDS = ("info", "convert", "track", "extract", "swap", "train", "export", "eval")
IMAGE_SUFFIXES = (".exr", ".png", ".jpg")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_model: Path, tiny_facesets, shared_dir: Path):
    """(root, cases, results): every case run once, two processes at a time, the slow ones first."""
    root = tmp_path_factory.mktemp("bad inputs ü")
    cases = bad_inputs.make_corpus(root, model_dir=tiny_model, faceset=tiny_facesets[0])
    env = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    ordered = sorted(cases, key=lambda case: not case.slow)
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip([case.name for case in ordered],
                           pool.map(lambda case: latentswap(*case.args, env=env, timeout=300), ordered), strict=True))
    return root, cases, results


def problems_of(case: bad_inputs.Case, result) -> list[str]:
    problems = []
    output = result.stdout + result.stderr
    if "Traceback" in output:
        problems.append("printed a traceback")
    if result.returncode != case.expect:
        problems.append(f"exit {result.returncode}, expected {case.expect}")
    lines = result.stderr.strip().splitlines()
    if case.expect == 2:
        if len(lines) != 1 or not lines[0].startswith("latentswap: error: "):
            problems.append(f"stderr is not one error line: {lines!r}")
        missing = [text for text in case.mentions if text not in result.stderr]
        if missing:
            problems.append(f"the error does not name {missing}")
    if case.output is not None:
        output_path = Path(case.output)
        if case.expect == 0 and not output_path.exists():
            problems.append(f"{output_path} was not written")
        if case.expect == 2:
            if output_path.is_file() or output_path.is_dir() and any(output_path.iterdir()):
                problems.append(f"{output_path} exists after the refusal")
            problems += unreadable_leftovers(output_path.parent)
    problems += [f"{path} was created: a path went through a shell" for path in case.forbidden if Path(path).exists()]
    return problems


def unreadable_leftovers(folder: Path) -> list[str]:
    """Images left beside a refused output must be whole (finished frames), never cut short."""
    found = []
    for path in folder.glob("*"):
        if path.suffix in IMAGE_SUFFIXES:
            try:
                read_image(path)
            except ImageError as error:
                found.append(f"{path} is left unreadable: {error}")
    return found


@pytest.mark.slow
def test_every_case_exits_cleanly_with_one_line_naming_the_culprit(corpus) -> None:
    _, cases, results = corpus
    report = []
    for case in cases:
        problems = problems_of(case, results[case.name])
        if problems:
            report.append(f"{case.name} ({case.command_line()}): {'; '.join(problems)}")
    assert not report, f"{len(report)} of {len(cases)} cases misbehave:\n" + "\n".join(report)


def test_no_hidden_partial_file_is_left_anywhere(corpus) -> None:
    root, _, _ = corpus
    leftovers = [str(path) for path in root.rglob(f"*{PARTIAL_MARK}*")]
    assert not leftovers


def test_the_corpus_covers_every_command_and_both_outcomes(corpus) -> None:
    _, cases, _ = corpus
    assert {case.args[0] for case in cases} >= set(COMMANDS)
    assert {case.expect for case in cases} == {0, 2}
    assert len({case.name for case in cases}) == len(cases)


def test_metadata_holding_code_is_copied_as_text_into_the_swapped_frames(corpus) -> None:
    _, cases, _ = corpus
    case = next(case for case in cases if case.name == "model_provenance_injection_swap")
    metadata = read_image(case.output).metadata
    assert metadata["latentswap/consent"] == bad_inputs.INJECTION
    assert metadata["latentswap/identity_src"] == bad_inputs.INJECTION


def test_a_header_claiming_too_many_pixels_is_refused_before_reading(tmp_path: Path) -> None:
    spec = oiio.ImageSpec(40_000, 40_000, 3, "half")  # 9.6 GB of pixels: under OpenImageIO's own limit
    assert spec.width * spec.height > MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match=r"big\.exr: the header claims 40000x40000 pixels"):
        check_pixel_count(tmp_path / "big.exr", spec)
    check_pixel_count(tmp_path / "ok.exr", oiio.ImageSpec(8192, 4320, 4, "half"))
    check_pixel_count(tmp_path / "17k.exr", oiio.ImageSpec(17520, 8040, 3, "half"))  # the largest camera frame
    square = oiio.ImageSpec(16384, 16384, 3, "uint8")  # what a 784 KB PNG may claim: 9 GB to convert
    with pytest.raises(ImageError, match=r"16k\.png: the header claims 16384x16384 .* \$LATENTSWAP_MAX_IMAGE_PIXELS"):
        check_pixel_count(tmp_path / "16k.png", square)


def test_the_pixel_bound_can_be_raised_for_larger_formats(tmp_path: Path, monkeypatch) -> None:
    square = oiio.ImageSpec(16384, 16384, 3, "uint8")
    monkeypatch.setenv("LATENTSWAP_MAX_IMAGE_PIXELS", str(18000 * 18000))  # a dome plate
    check_pixel_count(tmp_path / "dome.exr", square)
    monkeypatch.setenv("LATENTSWAP_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(ImageError, match=r"\$LATENTSWAP_MAX_IMAGE_PIXELS='lots' is not a pixel count"):
        check_pixel_count(tmp_path / "dome.exr", square)


def test_the_script_writes_the_corpus_and_lists_the_commands(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run([sys.executable, str(REPO / "tools" / "bad_inputs.py"), str(tmp_path / "corpus")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "corpus" / "cases.json").is_file()
    assert "[exit 2] huge_exr_info: latentswap info" in result.stdout
