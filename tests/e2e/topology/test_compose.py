"""deploy/compose.yaml and deploy/haproxy.cfg, checked statically (no Docker engine here).

The same topology runs as processes in ``test_topology.py``; this module checks that the
compose file describes it: the roles, the commands and their flags, health checks and
start-up order.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.support import ROOT
from tests.support.topology import HAPROXY_CFG, haproxy_environment

COMPOSE = ROOT / "deploy" / "compose.yaml"


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, Any]:
    return compose()["services"]


def role(name: str) -> str:
    """``serve`` or ``project`` for a Spec Service container, else ''."""
    command = services()[name].get("command") or []
    return command[1] if command[:1] == ["specsvc"] else ""


@functools.cache
def accepted_flags(command: str) -> frozenset[str]:
    """The flags ``specsvc COMMAND --help`` lists, from a real run of the command line."""
    done = subprocess.run(
        [sys.executable, "-m", "specsvc.cli", command, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return frozenset(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", done.stdout))


def interpolated(word: str) -> str:
    """A compose value with ``${VAR...}`` replaced by a stand-in, as compose would."""
    return re.sub(r"\$\{[^}]+\}", "secret", word)


def test_the_topology_has_every_role() -> None:
    roles = {name: role(name) for name in services()}
    assert sorted(n for n, r in roles.items() if r == "serve") == ["api-a", "api-b"]
    assert sorted(n for n, r in roles.items() if r == "project") == ["worker", "worker-standby"]
    assert services()["postgres"]["image"].startswith("postgres:")
    assert services()["redis"]["image"].startswith("redis:")
    assert services()["haproxy"]["image"].startswith("haproxy:")


@pytest.mark.parametrize("name", ["api-a", "api-b", "worker", "worker-standby"])
def test_commands_use_flags_the_command_line_accepts(name: str) -> None:
    command = services()[name]["command"]
    flags = [word for word in command[2:] if word.startswith("--")]
    assert set(flags) <= accepted_flags(role(name)), set(flags) - accepted_flags(role(name))
    from specsvc.cli.main import build_parser

    parsed = build_parser().parse_args([interpolated(word) for word in command[1:]])
    assert parsed.database_url.startswith("postgresql://")
    assert parsed.database_url.endswith("@postgres:5432/specs")
    assert parsed.redis_url == "redis://redis:6379/0"


def test_api_instances_listen_on_every_interface_with_authentication() -> None:
    for name in ("api-a", "api-b"):
        command = services()[name]["command"]
        assert command[command.index("--rest-addr") + 1] == "0.0.0.0:8080"
        assert command[command.index("--grpc-addr") + 1] == "0.0.0.0:50051"
        # serve refuses anonymous requests on a non-loopback address
        tokens = command[command.index("--auth-tokens-file") + 1]
        assert tokens == "/run/secrets/tokens" and services()[name]["secrets"] == ["tokens"]
    assert compose()["secrets"]["tokens"]["file"] == "./tokens.yaml"


def test_every_long_running_service_has_a_health_check() -> None:
    for name, service in services().items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    for name in ("api-a", "api-b"):
        assert "127.0.0.1:8080/healthz" in " ".join(services()[name]["healthcheck"]["test"])
    for name in ("worker", "worker-standby"):
        command = services()[name]["command"]
        assert command[command.index("--health-addr") + 1] == "0.0.0.0:9091"
        assert "127.0.0.1:9091/readyz" in " ".join(services()[name]["healthcheck"]["test"])


def test_start_up_order_follows_the_dependencies() -> None:
    def waits_for(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services()[name]["depends_on"].items()}

    stores = {"postgres": "service_healthy", "redis": "service_healthy"}
    # The first worker creates the schema; everyone else on the store waits for it.
    assert waits_for("worker") == stores
    for name in ("worker-standby", "api-a", "api-b"):
        assert waits_for(name) == {**stores, "worker": "service_healthy"}
    assert set(waits_for("haproxy")) == {"api-a", "api-b"}


def test_the_image_installs_the_scaled_extras() -> None:
    for name in ("api-a", "api-b", "worker", "worker-standby"):
        build = services()[name]["build"]
        assert (build["context"], build["dockerfile"]) == ("..", "deploy/Dockerfile")
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install -q --no-cache-dir '.[postgres,redis]'" in dockerfile
    for package in ("specsvc", "rest_api", "grpc_api"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_haproxy_gets_its_configuration_and_every_address_it_reads() -> None:
    haproxy = services()["haproxy"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in haproxy["volumes"]
    wanted = set(re.findall(r"\$\{(\w+)\}", HAPROXY_CFG.read_text()))
    assert wanted == set(haproxy["environment"]) == set(haproxy_environment({}))
    assert haproxy["ports"] == ["8080:8080", "50051:50051"]


def backend(name: str) -> str:
    """The lines of one ``backend`` section of deploy/haproxy.cfg."""
    text = HAPROXY_CFG.read_text()
    found = re.search(rf"^backend {name}\n(.*?)(?=^\S|\Z)", text, flags=re.M | re.S)
    assert found, name
    return found.group(1)


def test_haproxy_prefers_ready_instances_and_falls_back_to_live_ones() -> None:
    rest, live = backend("api_rest"), backend("api_live")
    assert "http-check send meth GET uri /readyz" in rest
    assert "http-check send meth GET uri /healthz" in live
    assert "http-check expect status 200" in rest and "http-check expect status 200" in live
    assert "option allbackups" in rest
    for server in ("a", "b"):
        address = f'"${{SPECSVC_API_{server.upper()}_REST}}"'
        assert f"server {server} {address} check" in rest
        assert f"server {server}_live {address} backup track api_live/{server}" in rest
        assert f"server {server} {address} check" in live


def test_haproxy_speaks_h2c_to_grpc_and_follows_the_rest_checks() -> None:
    text, grpc = HAPROXY_CFG.read_text(), backend("api_grpc")
    assert re.search(r"bind \"\$\{SPECSVC_LB_GRPC_BIND\}\" proto h2", text)
    for server in ("a", "b"):
        address = f'"${{SPECSVC_API_{server.upper()}_GRPC}}" proto h2'
        assert f"server {server} {address} track api_rest/{server}" in grpc
        assert f"server {server}_live {address} backup track api_live/{server}" in grpc


@pytest.mark.system
def test_haproxy_accepts_the_configuration() -> None:
    addresses = {"rest": "127.0.0.1:18080", "grpc": "127.0.0.1:18081"}
    apis = [("127.0.0.1:1", "127.0.0.1:2"), ("127.0.0.1:3", "127.0.0.1:4")]
    env = {**os.environ, **haproxy_environment(addresses, apis)}
    done = subprocess.run(
        ["haproxy", "-c", "-f", str(HAPROXY_CFG)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr
