"""The pip route (requirements.txt) and the conda route (environment.yml) install the same pinned packages."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}  # conda package names that differ from pip's


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def _environment() -> tuple[dict[str, str], dict]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if not line.startswith("-"):
                    name, version = line.split("==")
                    pins[name.lower()] = version
        elif "==" in dep:
            name, version = dep.split("==")
            pins[CONDA_TO_PIP.get(name, name)] = version
    return pins, env


def test_every_requirement_is_pinned_exactly():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert line.count("==") == 1, f"requirements.txt: {line!r} is not an exact pin"


def test_environment_yml_matches_requirements():
    pins, env = _environment()
    assert env["name"] == "graphkd"
    assert "python=3.11" in env["dependencies"]
    assert pins == _requirements()


def test_makefile_test_target_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
