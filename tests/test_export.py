"""Export of a tiny trained model: ONNX and TorchScript agree with torch, refusals are one line, writes are atomic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from helpers import TINY_FACESET_SIZE, latentswap

from latentswap_core.cli import main
from latentswap_core.errors import ModelError
from latentswap_core.faceset import load_faceset
from latentswap_core.swap import Swapper
from latentswap_core.swap import export as export_module
from latentswap_core.swap.onnx_runner import OnnxSwapper, choose_providers

SIZE = TINY_FACESET_SIZE


@pytest.fixture(scope="module")
def trained(tiny_model: Path) -> Path:
    return tiny_model


@pytest.fixture(scope="module")
def swapper(trained, shared_dir: Path) -> Swapper:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        return Swapper(trained)


@pytest.fixture(scope="module")
def faces(tiny_facesets) -> np.ndarray:
    """Real aligned crops, src and dst: N x S x S x 3 float32."""
    crops = [load_faceset(folder).face(index) for folder in tiny_facesets for index in range(2)]
    return np.stack(crops).astype(np.float32)


@pytest.fixture(scope="module")
def onnx_file(trained, shared_dir: Path, tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("onnx") / "swap.onnx"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        code = main(["export", str(trained), "--format", "onnx", "-o", str(path)])
    assert code == 0
    return path


@pytest.fixture(scope="module")
def torchscript_file(trained, shared_dir: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("torchscript") / "swap.pt"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        code = main(["export", str(trained), "--format", "torchscript", "-o", str(path)])
    assert code == 0
    return path


def test_onnx_matches_torch_on_real_faces(onnx_file, swapper, faces) -> None:
    runner = OnnxSwapper(onnx_file)
    assert runner.face_size == SIZE and runner.batch_size is None and "CPUExecutionProvider" in runner.providers
    expected_faces, expected_masks = swapper.swap(faces)
    for count in (1, 3):  # the batch axis is dynamic
        found_faces, found_masks = runner.swap(faces[:count])
        assert found_faces.shape == (count, SIZE, SIZE, 3) and found_masks.shape == (count, SIZE, SIZE)
        assert np.abs(found_faces - expected_faces[:count]).max() < 1e-3
        assert np.abs(found_masks - expected_masks[:count]).max() < 1e-3


def test_onnx_file_carries_the_model_card(onnx_file, swapper) -> None:
    model = onnx.load(str(onnx_file))
    props = {prop.key: prop.value for prop in model.metadata_props}
    assert props["model_id"] == swapper.card.model_id and props["codec"] == "taef2"
    assert props["face_size"] == str(SIZE) and props["consent"] == swapper.card.consent == "REF-7"
    assert json.loads(props["identities"]) == {"src": "actor", "dst": "double"}  # the facesets' names
    assert model.opset_import[0].version >= 17
    assert [i.name for i in model.graph.input] == ["face"] and [o.name for o in model.graph.output] == ["swap"]
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim][1:] == [4, SIZE, SIZE]


def test_fixed_batch_onnx_runs_in_chunks(swapper, faces, tmp_path: Path) -> None:
    report = export_module.export_onnx(swapper, tmp_path / "b2.onnx", batch_size=2)
    assert report.max_abs_diff < 1e-3
    runner = OnnxSwapper(report.path, providers=["CPUExecutionProvider"])
    assert runner.batch_size == 2
    found, _ = runner.swap(faces[:3])
    assert np.abs(found - swapper.swap(faces[:3])[0]).max() < 1e-3


def test_torchscript_meets_nukes_contract(torchscript_file, swapper, faces) -> None:
    module = torch.jit.load(str(torchscript_file), map_location="cpu")
    image = torch.from_numpy(faces[2:3]).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad(), torch.jit.optimized_execution(False):  # no profiling runs: the same ops, faster here
        out = module(image)
        expected = swapper.network(image)
        assert out.shape == (1, 4, SIZE, SIZE)
        assert (out - expected).abs().max() < 1e-4
        rgba = torch.cat([image, torch.ones_like(image[:, :1])], dim=1)  # an rgba input: alpha is ignored
        assert (module(rgba) - expected).abs().max() < 1e-4
        # Larger than the face: resized to S and back, so the result is the S x S swap, upsampled.
        large = torch.nn.functional.interpolate(image, size=(2 * SIZE, 2 * SIZE), mode="bilinear")
        out_large = module(large)
        assert out_large.shape == (1, 4, 2 * SIZE, 2 * SIZE)
        assert 0.0 <= float(out_large.min()) and float(out_large.max()) <= 1.0
        back = torch.nn.functional.interpolate(out_large, size=(SIZE, SIZE), mode="bilinear", antialias=True)
        assert (back - expected).abs().mean() < 0.03


def test_bad_model_folder_is_one_line(tmp_path: Path) -> None:
    done = latentswap("export", str(tmp_path), "--format", "onnx", "-o", str(tmp_path / "x.onnx"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "is not a trained model" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_refused(trained, shared_models, tmp_path: Path, capsys) -> None:
    code = main(["export", str(trained), "--format", "torchscript", "-o", str(tmp_path / "missing" / "x.pt")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_failed_check_leaves_no_file(swapper, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(export_module, "ONNX_TOLERANCE", 0.0)  # no export can pass: the check must refuse it
    with pytest.raises(ModelError, match="differs from torch"):
        export_module.export_onnx(swapper, tmp_path / "swap.onnx")
    monkeypatch.setattr(export_module, "TORCHSCRIPT_TOLERANCE", -1.0)
    with pytest.raises(ModelError, match="differs from torch"):
        export_module.export_torchscript(swapper, tmp_path / "swap.pt")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a hidden partial one


def test_codec_mismatch_is_refused_before_writing(trained, shared_dir: Path, tmp_path: Path, capsys,
                                                  monkeypatch) -> None:
    codec = shutil.copytree(shared_dir / "models" / "taef2", tmp_path / "models" / "taef2")
    decoder = codec / "taef2_decoder.safetensors"
    from safetensors.torch import load_file, save_file

    weights = load_file(str(decoder))
    first = next(iter(weights))
    weights[first] = weights[first] + 1
    save_file(weights, str(decoder))
    monkeypatch.setenv("LATENTSWAP_MODELS", str(tmp_path / "models"))
    out = tmp_path / "out"
    out.mkdir()
    code = main(["export", str(trained), "--format", "onnx", "-o", str(out / "swap.onnx")])
    assert code == 2 and "differ from those" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_unfit_onnx_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.onnx"
    torch.onnx.export(torch.nn.Conv2d(1, 1, 1), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False)
    with pytest.raises(ModelError, match="not one B x 3 x S x S"):
        OnnxSwapper(path)
    path.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not a usable ONNX file"):
        OnnxSwapper(path)


def test_providers_prefer_tensorrt_then_cuda() -> None:
    available = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert choose_providers(available) == ["TensorrtExecutionProvider", "CUDAExecutionProvider",
                                           "CPUExecutionProvider"]
    assert choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_tensorrt_runs_in_fp16_with_its_engine_cache_beside_the_onnx_file(tmp_path: Path) -> None:
    from latentswap_core.swap.onnx_runner import provider_settings

    settings = dict(provider_settings(["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
                                      tmp_path))
    assert settings["TensorrtExecutionProvider"]["trt_fp16_enable"] == "True"
    assert settings["TensorrtExecutionProvider"]["trt_engine_cache_path"] == str(tmp_path / "tensorrt_cache")
    assert settings["CPUExecutionProvider"] == {} and list(settings)[0] == "TensorrtExecutionProvider"


def test_onnx_backend_runs_only_an_export_of_the_models_own_weights(tiny_model: Path, tmp_path: Path,
                                                                   shared_models) -> None:
    from latentswap_core.swap.backends import open_swapper

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    first = open_swapper(model, "onnx", "cpu")
    onnx_path = model / "model" / "swap.onnx"
    weights_hash = first.card.weights_sha256
    assert first.metadata["model_sha256"] == weights_hash
    # a swap.onnx that claims other weights (another model's, or one dropped in by hand), newer than the weights
    graph = onnx.load(str(onnx_path))
    for prop in graph.metadata_props:
        if prop.key == "model_sha256":
            prop.value = "0" * 64
    onnx.save(graph, str(onnx_path))
    again = open_swapper(model, "onnx", "cpu")
    assert again.metadata["model_sha256"] == weights_hash  # exported again, not run under this model's name
    written = {prop.key: prop.value for prop in onnx.load(str(onnx_path)).metadata_props}
    assert written["model_sha256"] == weights_hash
