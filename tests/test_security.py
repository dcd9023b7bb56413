"""Security checks: no code path that runs data as code, and paths never pass through a shell.

The scan reads every Python file of the product (latentswap_core, nuke_plugin, tools, benchmarks, init.py,
menu.py) with ``ast``, resolving import aliases, and refuses: ``torch.load`` without ``weights_only=True``,
pickle and its relatives (``pickle``, ``cPickle``, ``_pickle``, ``dill``, ``joblib``, ``marshal``, ``shelve``),
``eval``/``exec``, ``shell=True``, ``os.system``/``os.popen``, ``yaml.load`` without a safe loader and
``np.load(allow_pickle=True)``.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("latentswap_core", "nuke_plugin", "tools", "benchmarks", "init.py", "menu.py")
PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "marshal", "shelve", "cloudpickle"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "yaml.SafeLoader", "yaml.CSafeLoader"}
SHELL_RUNNERS = {"os.system", "os.popen", "os.spawnl", "os.spawnlp", "os.execl", "os.execlp", "commands.getoutput",
                 "subprocess.getoutput", "subprocess.getstatusoutput", "pty.spawn"}
INJECTION = "__import__('os').system('touch PWNED')"
METACHARACTERS = "a;touch PWNED $(touch PWNED) `touch PWNED` |&"


def product_files() -> list[Path]:
    files = []
    for name in SCANNED:
        path = REPO / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
    return [path for path in files if ".venv" not in path.parts and "__pycache__" not in path.parts]


class Scanner(ast.NodeVisitor):
    """Findings ``file:line: what`` for one module; names are resolved through its imports."""

    def __init__(self, path: Path):
        self.path = path
        self.aliases: dict[str, str] = {}
        self.findings: list[str] = []

    def report(self, node: ast.AST, what: str) -> None:
        self.findings.append(f"{self.path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}: {what}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in PICKLING_MODULES:
                self.report(node, f"imports {alias.name}")
            self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                alias.name.split(".")[0]
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] in PICKLING_MODULES:
            self.report(node, f"imports from {module}")
        for alias in node.names:
            if alias.name in PICKLING_MODULES:
                self.report(node, f"imports {alias.name}")
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}" if module else alias.name
        self.generic_visit(node)

    def dotted(self, node: ast.AST) -> str | None:
        """``np.load`` -> ``numpy.load`` when ``import numpy as np``; None for calls on computed values."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func) or ""
        keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
        if name in ("eval", "exec", "builtins.eval", "builtins.exec") or (
                name in ("__import__", "importlib.import_module") and not _is_constant(node.args[:1])):
            self.report(node, f"calls {name}()")
        if name in ("torch.load", "torch.serialization.load") and not _is_true(keywords.get("weights_only")):
            self.report(node, "torch.load without weights_only=True")
        if name in ("numpy.load",) and "allow_pickle" in keywords and not _is_false(keywords["allow_pickle"]):
            self.report(node, "numpy.load with allow_pickle")
        if name == "yaml.load" and _name_of(keywords.get("Loader", node.args[1] if len(node.args) > 1 else None),
                                             self) not in SAFE_YAML_LOADERS:
            self.report(node, "yaml.load without SafeLoader")
        if name in ("yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all"):
            self.report(node, f"calls {name}")
        if name in SHELL_RUNNERS:
            self.report(node, f"calls {name}: runs a shell")
        if "shell" in keywords and not _is_false(keywords["shell"]):
            self.report(node, f"{name or 'a call'} with shell=True")
        if name.startswith(("pickle.", "dill.", "joblib.", "marshal.", "shelve.")):
            self.report(node, f"calls {name}")
        self.generic_visit(node)


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_false(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in (False, None)


def _is_constant(nodes: list[ast.AST]) -> bool:
    return bool(nodes) and all(isinstance(node, ast.Constant) for node in nodes)


def _name_of(node: ast.AST | None, scanner: Scanner) -> str | None:
    return scanner.dotted(node) if node is not None else None


def scan(path: Path) -> list[str]:
    scanner = Scanner(path)
    scanner.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return scanner.findings


def test_the_scan_sees_the_whole_product() -> None:
    files = {str(path.relative_to(REPO)) for path in product_files()}
    assert {"init.py", "menu.py", "nuke_plugin/engine.py", "latentswap_core/models/store.py",
            "tools/bad_inputs.py"} <= files
    assert not any(part.startswith(".venv") for name in files for part in Path(name).parts)


def test_the_scan_catches_each_pattern(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pickle\nimport numpy as np\nimport subprocess as sp\nfrom torch import load\nimport os, yaml\n"
        "from joblib import dump\n"
        "load('w.pt')\nnp.load('a.npy', allow_pickle=True)\nsp.run('ls', shell=True)\nos.system('ls')\n"
        "os.popen('ls')\neval('1')\nexec('x = 1')\nyaml.load(open('c.yaml'))\n"
        "load('w.pt', weights_only=True)\nnp.load('a.npy')\nsp.run(['ls'], shell=False)\nmodel.eval()\n"
        "yaml.load(open('c.yaml'), Loader=yaml.SafeLoader)\nyaml.safe_load('a: 1')\n")
    scanner = Scanner(REPO / "sample.py")
    scanner.visit(ast.parse(sample.read_text()))
    lines = sorted(int(finding.split(":")[1]) for finding in scanner.findings)
    assert lines == [1, 6, 7, 8, 9, 10, 11, 12, 13, 14], scanner.findings


def test_no_code_runs_data_or_a_shell() -> None:
    findings = [finding for path in product_files() for finding in scan(path)]
    assert not findings, "\n".join(findings)


# -- paths with shell metacharacters stay argv items -------------------------------------------------------

def test_the_cli_takes_a_metacharacter_path_literally(tmp_path: Path, face_photo, monkeypatch) -> None:
    from helpers import latentswap

    from latentswap_core.io import Image, write_image

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / METACHARACTERS
    folder.mkdir()
    write_image(folder / "photo $(touch PWNED).png", Image(face_photo[::8, ::8].copy(), ("R", "G", "B")))
    result = latentswap("convert", str(folder / "photo $(touch PWNED).png"), "-o", str(folder / "out;ls.exr"))
    assert result.returncode == 0, result.stderr
    assert (folder / "out;ls.exr").is_file()
    missing = latentswap("info", str(folder / "nothing `touch PWNED`.exr"))
    assert missing.returncode == 2 and "nothing `touch PWNED`.exr" in missing.stderr
    assert not list(tmp_path.rglob("PWNED"))


# -- model metadata is JSON data -----------------------------------------------------------------------------

def test_model_metadata_holding_code_is_read_as_text(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    from latentswap_core.errors import ModelError
    from latentswap_core.models.card import model_folder, read_card
    from latentswap_core.models.config import SwapModelConfig

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "model"
    shutil.copytree(model_folder(tiny_model), folder)
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    provenance["consent"] = INJECTION
    provenance["identities"]["src"]["name"] = INJECTION
    provenance["face_type"] = INJECTION
    (folder / "provenance.json").write_text(json.dumps(provenance), encoding="utf-8")
    card = read_card(folder)
    assert card.consent == INJECTION and card.metadata()["latentswap/identity_src"] == INJECTION
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    with pytest.raises(ModelError, match=r"config\.json: swap model preset .*__import__.* is unknown"):
        SwapModelConfig.from_dict({**config, "preset": INJECTION}, source=str(folder / "config.json"))
    with pytest.raises(ModelError, match="unknown fields"):
        SwapModelConfig.from_dict({**config, "__class__": INJECTION}, source="config.json")
    assert not list(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()


def test_a_faceset_reads_only_files_inside_its_folder(tiny_facesets, tmp_path: Path) -> None:
    from latentswap_core.errors import FacesetError
    from latentswap_core.faceset import load_faceset

    outside = tmp_path / "secret.png"
    shutil.copy(next(tiny_facesets[0].rglob("*.png")), outside)  # a real image, so only the place is wrong
    for name in ("../secret.png", str(outside), "faces/../../secret.png"):
        copy = tmp_path / f"set{len(list(tmp_path.iterdir()))}"
        shutil.copytree(tiny_facesets[0], copy)
        index = json.loads((copy / "faceset.json").read_text())
        index["faces"][0]["file"] = name if not name.startswith("../") else "../" + outside.name
        (copy / "faceset.json").write_text(json.dumps(index))
        with pytest.raises(FacesetError) as raised:
            load_faceset(copy)
        assert repr(index["faces"][0]["file"]) in str(raised.value)
        assert "outside" in str(raised.value) or "not a file name inside" in str(raised.value)


def test_a_model_folder_that_asks_too_much_or_holds_bad_weights_is_refused_by_name(tiny_model: Path,
                                                                                   tmp_path: Path) -> None:
    import resource

    import torch
    from safetensors.torch import load_file, save_file

    from latentswap_core.errors import ModelError
    from latentswap_core.models.store import load_model

    folder = tmp_path / "model"
    shutil.copytree(tiny_model / "model", folder)
    weights = load_file(str(folder / "model.safetensors"))
    name = next(n for n, t in weights.items() if t.is_floating_point())
    broken = dict(weights)
    broken[name] = broken[name].clone()
    broken[name].view(-1)[0] = float("nan")
    save_file(broken, str(folder / "model.safetensors"))
    with pytest.raises(ModelError, match=r"model\.safetensors holds NaN or infinite weights"):
        load_model(folder)
    broken[name] = weights[name].to(torch.int8)
    save_file(broken, str(folder / "model.safetensors"))
    with pytest.raises(ModelError, match=f"holds {name} as int8"):
        load_model(folder)
    save_file(weights, str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    config["codebook_size"] = 2**31  # gigabytes of codebook, asked by a 20-byte change
    (folder / "config.json").write_text(json.dumps(config))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError, match="G parameters"):
        load_model(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: refused before allocating
