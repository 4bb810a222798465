"""The built wheel works on its own: installed (not editable) and run through its
`flowbot` console script from another directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_installed_wheel_runs_its_console_script_from_another_directory(
    tmp_path: Path,
) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("flowbot-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/schemas/flow.schema.json" in names and "cli.py" in names
    assert not any(name.startswith(("tests/", "flows/", "benchmarks/")) for name in names)

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
         "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed copy comes first on the path, ahead of this checkout's editable install;
    # dependencies come from the test environment.
    env = {**os.environ, "PYTHONPATH": str(site), "NO_COLOR": "1"}
    cars = str(ROOT / "flows" / "cars.yaml")
    script = site / "bin" / "flowbot"
    where = subprocess.run(
        [sys.executable, "-c", "import engine.schema as s; print(s.schema_path())"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert where.stdout.strip() == str(site / "engine" / "schemas" / "flow.schema.json")
    validate = subprocess.run([str(script), "validate", cars], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=60, check=False)
    assert validate.returncode == 0, validate.stderr
    chat = subprocess.run([str(script), "run", cars], input="show me suvs under 30000\n",
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert chat.returncode == 0, chat.stderr
    assert "Chevrolet Trax" in chat.stdout
