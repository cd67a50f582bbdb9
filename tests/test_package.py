"""The built wheel installs and runs anywhere: prompts ship as package data, folders are the working directory's.

Builds the wheel from this checkout (with the venv's setuptools when recent enough: nothing downloaded), installs it
without dependencies into a scratch folder put first on PYTHONPATH (the venv supplies the dependencies), then
runs `ragchat index` and `ragchat ask --json --mode extractive` in a temporary directory far from the source tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

DOC = (
    "The lighthouse at Cape Wrath was built in 1828 by Robert Stevenson.\n\n"
    "Its keepers left in 1998, when the light was automated.\n\n"
    "The cape lies at the north-western tip of Scotland, far from any town.\n"
)

pytestmark = pytest.mark.slow  # ~40 s: a wheel build, an install, a model load per command; .ci/run runs it


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _isolation() -> list[str]:
    """Build with the venv's setuptools when it can write wheels itself (70.1+), else let pip fetch one."""
    from importlib import metadata

    try:
        version = tuple(int(p) for p in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return []
    return ["--no-build-isolation"] if version >= (70, 1) else []


def test_wheel_installs_and_answers_from_another_directory(tmp_path):
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("RAGCHAT_")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *_isolation(), "-q", "-w", str(wheels), str(ROOT)],
         tmp_path, env)
    (wheel,) = wheels.glob("ragchat-*.whl")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)], tmp_path, env)
    assert (target / "ragchat" / "prompt_files" / "answer_user.txt").is_file()
    assert not (target / "prompts").exists()  # package data inside ragchat/, not a top-level folder

    (work / "seeds").mkdir(parents=True)
    (work / "seeds" / "lighthouse.txt").write_text(DOC, encoding="utf-8")
    env["PYTHONPATH"] = str(target)  # the installed copy, ahead of any checkout or editable install
    ragchat = [str(target / "bin" / "ragchat")]  # the console script pip wrote, on the venv's interpreter
    where = _run([sys.executable, "-c", "import ragchat, ragchat.prompts as p; print(ragchat.__file__); "
                  "print(p.default_dir())"], work, env).stdout.split("\n")
    assert where[0].startswith(str(target)) and str(ROOT) not in where[1], where

    index = _run([*ragchat, "index"], work, env)
    assert f"documents {work / 'seeds'}" in index.stderr and f"index {work / 'index'}" in index.stderr
    assert (work / "index" / "CURRENT").is_file()
    manifest = json.loads((work / "index" / (work / "index" / "CURRENT").read_text().strip() / "manifest.json")
                          .read_text())
    assert manifest["built_with"]["ragchat"] and manifest["built_with"]["faiss-cpu"]

    asked = _run([*ragchat, "ask", "--json", "--mode", "extractive", "When was the lighthouse at Cape Wrath built?"],
                 work, env)
    answer = json.loads(asked.stdout.strip().splitlines()[-1])
    assert "1828" in answer["answer"], answer
    cited = answer["citations"][0]
    assert cited["source"] == "lighthouse.txt" and DOC[cited["start"]:cited["end"]] == cited["quote"]
