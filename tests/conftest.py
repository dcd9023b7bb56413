"""Shared fixtures: the read-only material in ../shared (or $LATENTSWAP_SHARED) and real face images."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Under pytest-xdist (make test runs a worker per core) each worker computes on its share of the cores: two workers'
# torch and OpenMP thread pools, each as wide as the machine, would spin against each other. Set before torch or
# the tests' CLI fork server (which copies this environment) start.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

import numpy as np  # noqa: E402  (after the thread setting above)
import pytest  # noqa: E402
from helpers import TINY_FACESET_SIZE, TINY_PLATE_FACELESS_FRAME, TINY_PLATE_SIZE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the plugin folder, as Nuke puts it on sys.path: nuke_plugin is importable
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared")).resolve()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadgroup``), the tests of a module that share its module-scoped fixtures (a
    tracked clip, a corpus of bad inputs, trained models) run in one worker, which builds each fixture once: a group
    per module and set of tests joined by the module fixtures they use. The other tests are handed out one by one."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    group_of: dict[tuple[str, str], tuple[str, str]] = {}  # (module, fixture) -> its group's root (union-find)

    def root(key: tuple[str, str]) -> tuple[str, str]:
        while group_of.setdefault(key, key) != key:
            key = group_of[key]
        return key

    shared: dict[int, list[tuple[str, str]]] = {}
    for index, item in enumerate(items):
        module = item.nodeid.split("::")[0]
        definitions = item._fixtureinfo.name2fixturedefs  # type: ignore[attr-defined]
        keys = [(module, name) for name, chain in sorted(definitions.items()) if chain[-1].scope == "module"]
        for key in keys[1:]:
            group_of[root(key)] = root(keys[0])
        shared[index] = keys
    for index, keys in shared.items():
        if keys:
            module, name = root(keys[0])
            items[index].add_marker(pytest.mark.xdist_group(f"{module}:{name}"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """A worker whose grouped tests lost their group in the node id would build each module fixture once per worker,
    silently (pytest 9.2 with pytest-xdist 3.8: pytest-dev/pytest-xdist#1386, hence constraints.txt's pytest pin)."""
    if not session.config.getoption("loadgroup", False) or "PYTEST_XDIST_WORKER" not in os.environ:
        return
    lost = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        message = (f"pytest-xdist ignored the test groups of {lost[0]} and {len(lost) - 1} more: "
                   "install the pytest that constraints.txt pins (make install)")
        sys.stderr.write(message + "\n")  # xdist shows a worker's error only as an INTERNALERROR assertion
        raise pytest.UsageError(message)


@pytest.fixture(autouse=True)
def seeded_randomness() -> None:
    """Every test draws the same random numbers on every run, so a failure reproduces: numpy's and torch's global
    generators are seeded before each test (torch only where a test module imported it)."""
    np.random.seed(0)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def user_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The engine's user cache folder ($LATENTSWAP_CACHE) for this run, shared by the workers (their temporary
    folders sit side by side): a test's trainer reads the decoder fits that another's kept, as a user's second
    model does, and nothing is read from or left in the home folder. Set before any CLI process is started."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "user cache"
    os.environ["LATENTSWAP_CACHE"] = str(folder)
    return folder


@pytest.fixture(params=["cpu", "cuda"])
def torch_device(request: pytest.FixtureRequest) -> str:
    """Where a test of torch ops runs them: the CPU always, and the GPU where torch sees one (skipped elsewhere)."""
    import torch

    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here: these torch ops are checked on the CPU only")
    return request.param


@pytest.fixture
def native_bf16_cpu() -> None:
    """Skips a test of bf16 compute on a CPU that emulates bf16 (no AVX512-BF16 or AMX): there the trainers run
    float32 and the swap refuses ``--precision bf16`` (tests/test_swap_precision.py checks the refusal)."""
    from latentswap_core.devices import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU computes no bf16 natively (AVX512-BF16 or AMX)")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert (SHARED / "models" / "taef2").is_dir(), (
        f"the shared material is not at {SHARED}; set LATENTSWAP_SHARED to the folder holding models/ and data/"
    )
    return SHARED


@pytest.fixture
def shared_models(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the model search path at ../shared/models, as the demo and CI do."""
    monkeypatch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
    return shared_dir / "models"


@pytest.fixture(scope="session")
def face_photo(shared_dir: Path) -> np.ndarray:
    """A real portrait (obama.jpg) as sRGB uint8, height x width x 3."""
    from latentswap_core.io import read_image

    return read_image(shared_dir / "data" / "faces" / "obama.jpg").pixels


@pytest.fixture(scope="session")
def tiny_facesets(tmp_path_factory, shared_dir: Path) -> tuple[Path, Path]:
    """src (folder "actor"): obama.jpg + obama2.jpg, dst (folder "double"): biden2.jpg + biden.jpg, at 128 px. The
    folders are named as a show would name them, so the names a model records are seen to come from them."""
    from latentswap_core.extract import ExtractOptions, faceset_from_photos

    root = tmp_path_factory.mktemp("facesets")
    for folder, names in (("actor", ("obama", "obama2")), ("double", ("biden2", "biden"))):
        faceset_from_photos([shared_dir / "data" / "faces" / f"{name}.jpg" for name in names], root / folder,
                            ExtractOptions(size=TINY_FACESET_SIZE))
    return root / "actor", root / "double"


@pytest.fixture(scope="session")
def tiny_model(tiny_facesets, shared_dir: Path, tmp_path_factory) -> Path:
    """A model folder trained for 3 steps on the tiny facesets (consent "REF-7"): enough for the plumbing."""
    from latentswap_core.train import Trainer, TrainOptions

    output = tmp_path_factory.mktemp("tiny_model") / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        Trainer(TrainOptions(tiny_facesets[0], tiny_facesets[1], output, resolution=TINY_FACESET_SIZE, steps=3,
                             preview_every=0, augment=False, consent="REF-7")).run()
    return output


@pytest.fixture(scope="session")
def tiny_plate(shared_dir: Path, tmp_path_factory) -> Path:
    """Four 640x360 half-float ACEScg RGBA frames (1001-1004) of biden2.jpg moving a little; 1002 has no face."""
    from latentswap_core.demo import shot as shots

    photo = shots.load_photo("biden2", shared_dir)
    poses = [[None if 1001 + t == TINY_PLATE_FACELESS_FRAME
              else shots.Pose(angle=3.0 * t, scale=0.55, x=320.0 + 6 * t, y=180.0)] for t in range(4)]
    shot = shots.render_shot([photo], poses, noise_sigma=2.0, size=TINY_PLATE_SIZE)
    return Path(shots.write_exr_plate(shot.frames, tmp_path_factory.mktemp("tiny_plate"), alpha=True))
