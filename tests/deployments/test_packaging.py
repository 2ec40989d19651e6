"""The distribution installs one top-level name, `healthmon`, and works beside PyPI's own
`config` and `api` packages in one environment (each used to overwrite the other's files)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
#: generic names on PyPI that healthmon's parts used to install over
NEIGHBOURS = ("config==0.5.1", "api==0.0.7")


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)])
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = out.glob("healthmon-*.whl")
    return found


def test_the_wheel_holds_only_the_healthmon_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"healthmon", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    assert "healthmon/storage/migrations/versions/0001_initial.py" in names
    assert "healthmon/alerting/templates/email.html.j2" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "healthmon = healthmon.deployments.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_beside_pypis_config_and_api_it_checks_the_critical_tier(
    wheel: Path, tmp_path: Path, pg_server_url: str, redis_url: str
) -> None:
    # A fresh environment with only healthmon and the two neighbours of its own; healthmon's
    # dependencies come from this test's environment through a path entry (no site processing,
    # so this checkout's editable install does not leak in).
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    own = Path(_run([str(python), "-c", purelib]).stdout.strip())
    deps = [p for p in {*site.getsitepackages(), sysconfig.get_paths()["purelib"]} if Path(p).is_dir()]
    (own / "healthmon-test-deps.pth").write_text("\n".join(deps) + "\n")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(own)]
    installed = _run([*pip, str(wheel), *NEIGHBOURS])
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert {"healthmon", "config", "api"} <= {p.name for p in own.iterdir()}

    config = tmp_path / "healthmon.yaml"
    services = {"postgres": {"dsn": pg_server_url}, "redis": {"url": redis_url}}
    config.write_text(yaml.safe_dump({"services": services}))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HEALTHMON_DATA_DIR": str(tmp_path / "data"),
        "HEALTHMON_CONFIG": str(config),
    }
    where = _run(
        [str(python), "-c", "import config, api, healthmon.config as h; print(config.__file__, h.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    pypi_config, our_config = where.stdout.split()
    assert pypi_config.startswith(str(own / "config")) and our_config.startswith(str(own / "healthmon"))

    healthmon = [str(python), "-m", "healthmon.deployments.cli"]
    upgraded = _run([*healthmon, "db", "upgrade"], cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    checked = _run([*healthmon, "check", "--tier", "critical", "--json"], cwd=tmp_path, env=env)
    assert checked.returncode == 0, checked.stderr[-3000:]
    lines = [yaml.safe_load(line) for line in checked.stdout.splitlines()]
    statuses = sorted((r["service"], r["status"]) for r in lines)
    assert statuses == [("postgres", "healthy"), ("redis", "healthy")]
