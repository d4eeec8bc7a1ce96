"""docker/tempo.yaml and docker/loki.yaml take ${VAR:-default} (the suite moves ports and
data folders with them) and, with no variable set, still say what the compose stack uses.
Needs no binary: these checks run even where the backends are skipped (test_config_binaries.py
asks the binaries themselves)."""

from __future__ import annotations

import re

import pytest

from tests.real.backends import DOCKER

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

COMPOSE_VALUES = {
    "tempo.yaml": [
        "http_listen_port: 3200",
        "grpc_listen_port: 9095",
        "endpoint: 0.0.0.0:4318",
        "endpoint: 0.0.0.0:4317",
        "path: /var/tempo/wal",
        "path: /var/tempo/blocks",
    ],
    "loki.yaml": [
        "http_listen_port: 3100",
        "grpc_listen_port: 9096",
        "path_prefix: /loki",
        "chunks_directory: /loki/chunks",
        "rules_directory: /loki/rules",
    ],
}


def expand(text: str, env: dict[str, str]) -> str:
    """What -config.expand-env=true does with ${VAR:-default} (an unset or empty VAR takes the default)."""
    return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), text)


def config_lines(name: str, env: dict[str, str]) -> list[str]:
    text = expand((DOCKER / name).read_text(encoding="utf-8"), env)
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("name", sorted(COMPOSE_VALUES))
def test_with_no_variable_set_the_configs_keep_the_compose_values(name: str) -> None:
    lines = config_lines(name, {})
    for expected in COMPOSE_VALUES[name]:
        assert expected in lines, f"{name}: {expected!r} missing"
    # an empty listen address is the binaries' default: every interface, as before
    assert all(line.endswith(":") for line in lines if "_listen_address" in line)


@pytest.mark.parametrize("name", sorted(COMPOSE_VALUES))
def test_every_port_and_path_is_a_variable(name: str) -> None:
    """The suite must be able to move each of them, or it would collide with a running stack."""
    moved = {m.group(1): "MOVED" for m in _VAR.finditer((DOCKER / name).read_text(encoding="utf-8"))}
    lines = config_lines(name, moved)
    for expected in COMPOSE_VALUES[name]:
        assert expected not in lines, f"{name}: {expected!r} is fixed"


def test_compose_expands_the_variables() -> None:
    """Without -config.expand-env=true the binaries would read ${…} literally."""
    compose = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
    for conf in ("/etc/tempo.yaml", "/etc/loki/loki.yaml"):
        (command,) = [line for line in compose.splitlines() if "command:" in line and conf in line]
        assert '"-config.expand-env=true"' in command, command
