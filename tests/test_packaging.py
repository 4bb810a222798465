"""The built wheel works on its own, run from another directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_schema_and_runs_from_another_directory(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("flowbot-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/schemas/flow.schema.json" in names and "cli.py" in names
    assert not any(name.startswith(("tests/", "flows/")) for name in names)
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -I: ignore the environment and the current directory, so only the
    # unpacked wheel (plus installed dependencies) provides `engine` and `cli`.
    script = (
        f"import sys; sys.path.insert(0, {str(unpacked)!r}); import engine.loader, cli; "
        "assert engine.loader.schema_path().is_relative_to(sys.path[0]), "
        "engine.loader.schema_path(); "
        f"sys.argv = ['flowbot', 'validate', {str(ROOT / 'flows' / 'cars.yaml')!r}]; cli.main()"
    )
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=elsewhere,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert "cars.yaml: ok" in run.stdout
