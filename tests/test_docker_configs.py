"""The local stack (docker/) as a first `make up` meets it, checked without Docker or Grafana:
the compose file, the Grafana provisioning and the Makefile targets agree with each other and
with tempo.yaml / loki.yaml. (That Tempo and Loki boot on these configs is the real-backend
suite's part: tests/real/ starts the binaries from them.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.real.backends import VERSIONS
from tests.real.test_configs import expand

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
PROVISIONING = DOCKER / "grafana" / "provisioning" / "datasources" / "datasources.yaml"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    return load(DOCKER / "docker-compose.yml")


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def datasources() -> dict[str, dict[str, Any]]:
    """The provisioned datasources by uid, as Grafana would read them ($$ is a literal $)."""
    text = PROVISIONING.read_text(encoding="utf-8").replace("$$", "$")
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == 1
    by_uid = {ds["uid"]: ds for ds in doc["datasources"]}
    assert len(by_uid) == len(doc["datasources"]), "two datasources share a uid"
    return by_uid


# --- the stack starts the first time ------------------------------------------------


def test_tempo_and_loki_keep_their_data_where_user_10001_can_write() -> None:
    """Their images run as 10001, which can write only /var/tempo and /loki; a named volume
    mounted there is created owned like that directory, one mounted anywhere else root-owned."""
    for name, config, key_path, home in (
        ("tempo", "tempo.yaml", ("storage", "trace", "wal", "path"), "/var/tempo"),
        ("loki", "loki.yaml", ("common", "path_prefix"), "/loki"),
    ):
        svc = service(name)
        named = set(compose()["volumes"])
        mounts = {m.split(":")[1]: m.split(":")[0] for m in svc["volumes"]}
        assert mounts.get(home) in named, f"{name}: no named volume on {home}: {svc['volumes']}"
        value: Any = yaml.safe_load(expand((DOCKER / config).read_text(encoding="utf-8"), {}))
        for key in key_path:
            value = value[key]
        assert value == home or value.startswith(home + "/"), f"{name} stores under {value}, not {home}"
        assert "user" not in svc, f"{name}: runs as the image's own user"


def test_tempo_and_loki_are_the_versions_the_real_backend_suite_proves() -> None:
    """tests/real/ boots these same tempo.yaml and loki.yaml with Tempo 2.7.2 and Loki 3.4.6
    (and checks the binaries' -version): the stack must run those, not a version whose config
    rules differ (Tempo 3.0 refuses tempo.yaml's query_ingesters_until)."""
    assert service("tempo")["image"] == f"grafana/tempo:{VERSIONS['tempo']}"
    assert service("loki")["image"] == f"grafana/loki:{VERSIONS['loki']}"


def test_tempo_config_keeps_backdated_traces_searchable_at_once() -> None:
    """The two Tempo 2.x keys docs/time.md measures; with the image moved to Tempo 3.0 the
    second would stop it from starting (removed, and its config is parsed strictly)."""
    config = yaml.safe_load(expand((DOCKER / "tempo.yaml").read_text(encoding="utf-8"), {}))
    assert config["storage"]["trace"]["wal"]["ingestion_time_range_slack"] == "168h"
    assert config["query_frontend"]["search"]["query_ingesters_until"] == "168h"
    assert VERSIONS["tempo"].startswith("2."), "Tempo 3.0 refuses query_frontend.search.query_ingesters_until"


def test_every_port_is_published_on_loopback_only() -> None:
    """Grafana lets anyone in as Admin: nothing may listen on the network."""
    for name, svc in compose()["services"].items():
        for port in svc.get("ports", []):
            assert isinstance(port, str), f"{name}: {port!r}"
            host, published, target = port.split(":")
            assert host == "127.0.0.1", f"{name}: {port} is published on every interface"
            assert published == target


def test_every_image_is_pinned_to_a_version() -> None:
    for name, svc in compose()["services"].items():
        image = svc["image"]
        assert re.fullmatch(r"[a-z0-9./-]+:v?\d+\.\d+\.\d+", image), f"{name}: {image} is not pinned"


#: How each image's healthcheck reaches busybox's wget, from the images' Dockerfiles: Tempo
#: 2.7's final stage is alpine:3.21 (wget on the PATH), Loki 3.4's gcr.io/distroless/static:debug
#: (busybox applets in /busybox), Prometheus' has busybox. Neither Tempo 2.7 nor Loki 3.4 has
#: the -health flag of Tempo 3.0 and Loki 3.7.
WGET = {"tempo": "wget", "loki": "/busybox/wget", "prometheus": "wget"}


def test_each_backend_has_a_healthcheck_its_image_can_run() -> None:
    for name, wget in WGET.items():
        check = service(name)["healthcheck"]
        test = check["test"]
        assert test[0] == "CMD", f"{name}: CMD-SHELL needs a shell"
        assert test[1] == wget, f"{name}: {test}"
        assert "-health" not in test, f"{name}: its binary has no -health flag"
        assert re.fullmatch(r"http://(localhost|127\.0\.0\.1):\d+/(-/)?ready", test[-1]), test
        assert check["start_period"], name


def test_the_health_urls_are_the_ports_the_configs_listen_on() -> None:
    tempo = yaml.safe_load(expand((DOCKER / "tempo.yaml").read_text(encoding="utf-8"), {}))
    loki = yaml.safe_load(expand((DOCKER / "loki.yaml").read_text(encoding="utf-8"), {}))
    ports = {
        "tempo": tempo["server"]["http_listen_port"],
        "loki": loki["server"]["http_listen_port"],
        "prometheus": 9090,
    }
    for name, port in ports.items():
        url = service(name)["healthcheck"]["test"][-1]
        assert re.match(rf"http://[^/]+:{port}/", url), f"{name}: {url} is not port {port}"


def test_grafana_starts_after_the_backends_are_ready() -> None:
    depends = service("grafana")["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == {
        "tempo": "service_healthy",
        "loki": "service_healthy",
        "prometheus": "service_healthy",
    }


def test_the_mounted_files_exist() -> None:
    for name, svc in compose()["services"].items():
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} is missing"


def test_prometheus_takes_otlp_and_keeps_exemplars() -> None:
    command = service("prometheus")["command"]
    assert "--web.enable-otlp-receiver" in command
    assert "--enable-feature=exemplar-storage" in command


# --- Grafana's provisioning -----------------------------------------------------------


def test_provisioning_defines_each_backend_once_at_its_compose_address() -> None:
    by_uid = datasources()
    assert {uid: (ds["type"], ds["url"]) for uid, ds in by_uid.items()} == {
        "tempo": ("tempo", "http://tempo:3200"),
        "loki": ("loki", "http://loki:3100"),
        "prometheus": ("prometheus", "http://prometheus:9090"),
    }
    assert [uid for uid, ds in by_uid.items() if ds.get("isDefault")] == ["tempo"]
    assert set(by_uid) <= set(compose()["services"])


def links(ds: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, target uid) for every link a datasource's jsonData makes."""
    data = ds.get("jsonData", {})
    found = []
    for key in ("tracesToLogsV2", "tracesToMetrics", "lokiSearch", "serviceMap", "tracesToProfiles"):
        if key in data:
            found.append((key, data[key]["datasourceUid"]))
    found += [(f"derivedFields {f['name']}", f["datasourceUid"]) for f in data.get("derivedFields", [])]
    found += [(f"exemplar {e['name']}", e["datasourceUid"]) for e in data.get("exemplarTraceIdDestinations", [])]
    return found


def test_every_link_points_at_a_provisioned_datasource_of_the_right_type() -> None:
    by_uid = datasources()
    expected_type = {
        "tracesToLogsV2": "loki",
        "lokiSearch": "loki",
        "tracesToMetrics": "prometheus",
        "derivedFields TraceID": "tempo",
        "exemplar trace_id": "tempo",
    }
    made = {(uid, what): target for uid, ds in by_uid.items() for what, target in links(ds)}
    assert set(made) == {
        ("tempo", "tracesToLogsV2"),
        ("tempo", "lokiSearch"),
        ("tempo", "tracesToMetrics"),
        ("loki", "derivedFields TraceID"),
        ("prometheus", "exemplar trace_id"),
    }
    for (uid, what), target in made.items():
        assert target in by_uid, f"{uid} {what} → {target}: no such datasource"
        assert by_uid[target]["type"] == expected_type[what], f"{uid} {what} → {target}"


def test_trace_ids_are_matched_where_otel_replay_puts_them() -> None:
    """otel-replay writes the trace id as Loki structured metadata trace_id; Prometheus' OTLP
    receiver stores an exemplar's trace id as trace_id."""
    by_uid = datasources()
    (field,) = by_uid["loki"]["jsonData"]["derivedFields"]
    assert (field["matcherType"], field["matcherRegex"], field["url"]) == ("label", "trace_id", "${__value.raw}")
    logs = by_uid["tempo"]["jsonData"]["tracesToLogsV2"]
    assert logs["customQuery"] is True
    assert '| trace_id="${__trace.traceId}"' in logs["query"]
    assert logs["query"].startswith('{service_name="${__span.tags["service.name"]}"}')
    (exemplar,) = by_uid["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    assert exemplar["name"] == "trace_id"


def test_traces_to_metrics_asks_for_the_series_codemachine_sends() -> None:
    """Prometheus names OTLP series with underscores and suffixes (a counter gets _total, a
    unit in braces is dropped, bytes becomes _bytes) and makes service.name the job label."""
    metrics = datasources()["tempo"]["jsonData"]["tracesToMetrics"]
    assert metrics["tags"] == [{"key": "service.name", "value": "job"}]
    queries = [q["query"] for q in metrics["queries"]]
    assert all("{$__tags}" in q for q in queries), queries
    names = {m for q in queries for m in re.findall(r"([a-z_]+)\{\$__tags\}", q)}
    assert names == {"engine_llm_calls_total", "engine_llm_tokens_total", "process_memory_rss_bytes"}


def test_every_dollar_in_the_provisioning_is_escaped() -> None:
    """Grafana expands $VAR and ${VAR} in provisioning files from its environment: a template
    variable written with one $ would arrive empty."""
    text = PROVISIONING.read_text(encoding="utf-8")
    lone = [m.start() for m in re.finditer(r"(?<!\$)\$(?!\$)", text.replace("$$", ""))]
    assert not lone, [text.replace("$$", "")[i - 20 : i + 20] for i in lone]


# --- the Makefile's stack targets ----------------------------------------------------


def make_target(name: str) -> list[str]:
    lines = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
    body = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        body.append(line)
    return body


@pytest.mark.parametrize("target", ["replay", "up", "down"])
def test_stack_targets_need_no_gnu_tools(target: str) -> None:
    """macOS has BSD date: no `date -d`, nothing generated on the fly."""
    body = " ".join(make_target(target))
    assert "date " not in body
    assert "make_example" not in body


def test_replay_waits_for_the_stack_and_shifts_the_example_to_now() -> None:
    replay = " ".join(make_target("replay"))
    assert replay.startswith("replay:") and " up" in replay.split("\t")[0]
    assert "--shift-to-now" in replay
    assert "$(EXAMPLE)" in replay
    up = " ".join(make_target("up"))
    assert "up -d --wait" in up


def test_makefile_endpoints_are_the_published_ports() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    published = {port.split(":")[1] for svc in compose()["services"].values() for port in svc.get("ports", [])}
    for var in ("LOKI_URL", "OTLP_ENDPOINT", "METRICS_ENDPOINT"):
        (url,) = re.findall(rf"^{var} \?= (\S+)$", text, re.MULTILINE)
        port = re.match(r"http://localhost:(\d+)", url)
        assert port and port.group(1) in published, f"{var}={url}"
