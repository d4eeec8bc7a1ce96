"""The binaries themselves read docker/tempo.yaml and docker/loki.yaml with no variable set
as the compose stack does (the suite's own start proves they boot with the variables set)."""

from __future__ import annotations

import os
import subprocess

from tests.real.backends import DOCKER, require_binaries
from tests.real.test_configs import COMPOSE_VALUES

require_binaries()


def test_loki_reads_the_compose_values_with_no_variable_set() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") or k == "LOKI_BIN"}
    out = subprocess.run(
        [os.environ["LOKI_BIN"], f"-config.file={DOCKER / 'loki.yaml'}", "-config.expand-env=true",
         "-print-config-stderr", "-verify-config"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    printed = [line.strip() for line in out.stderr.splitlines()]
    for expected in [*COMPOSE_VALUES["loki.yaml"], 'http_listen_address: ""']:
        assert expected in printed, expected


def test_tempo_accepts_the_config_with_no_variable_set() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPO_") or k == "TEMPO_BIN"}
    out = subprocess.run(
        [os.environ["TEMPO_BIN"], f"-config.file={DOCKER / 'tempo.yaml'}", "-config.expand-env=true",
         "-config.verify=true"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
