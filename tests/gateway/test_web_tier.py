"""The team's service as the web tier: any command, and clear errors for a bad [web]."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import requests

from pytest_drtest import faults
from pytest_drtest.errors import DrConfigError
from pytest_drtest.gateway.web import ServiceProcess
from pytest_drtest.harness import Harness
from pytest_drtest.probes.http import dns_lookup
from pytest_drtest.recovery import RUNBOOKS
from pytest_drtest.settings import Settings
from pytest_drtest.topology.blueprint import parse_blueprint, parse_web

SERVICES = Path(__file__).parent / "services"


def test_a_command_web_tier_serves_the_probes_through_a_region_failover() -> None:
    web = {"command": [sys.executable, "plain_server.py", "--host", "{host}", "--port", "{port}"]}
    blueprint = parse_blueprint({"name": "plain", "compute": {"capacity": 2}, "tables": [{"name": "orders", "seed_items": 5}],
                                 "web": web}, str(SERVICES / "blueprint.toml"))
    assert blueprint.web is not None and blueprint.web.cwd == str(SERVICES)
    with Harness(Settings(backend="moto-server"), strategy="warm-standby", blueprint=blueprint) as dr:
        with dr.probe(interval="5s") as probe:
            dr.clock.sleep("1m")
            dr.inject(faults.RegionOutage("primary"))
            RUNBOOKS["dns-failover"](dr.topology, dr.clock)
            assert probe.wait_recovered(within="20m")
            result = probe.result()
        assert set(result.served_by) == {dr.topology.primary_region, dr.topology.dr_region}
        assert all("plain server on" in out for out in dr.service_outputs().values())
        assert probe.path._batch_reads is False  # a server without POST (501): read back key by key
        assert result.samples > 0


def test_the_built_in_application_answers_the_batch_read_and_the_probe_uses_it() -> None:
    blueprint = parse_blueprint({"name": "small", "compute": {"capacity": 2}, "tables": [{"name": "orders", "seed_items": 3}]},
                                "small.toml")
    with Harness(Settings(backend="moto-server"), strategy="warm-standby", blueprint=blueprint) as dr:
        with dr.probe(interval="5s") as probe:
            dr.clock.sleep("1m")
            written = {key: w.payload for key, w in dr.ledger.latest().items()}
            region, found = probe.path.read_all([*written, "never-written"])
        assert probe.path._batch_reads is True
        assert region == dr.topology.primary_region and len(written) > 5
        assert found == {**written, "never-written": None}
        assert dr.network is not None and dr.web is not None
        address = dns_lookup(dr.topology.fqdn, dr.network.dns_address)[0][0]  # the primary's load balancer
        url = f"http://{address}:{dr.web.port}/drtest/items:read"
        written = next(iter(dr.ledger.latest().values()))
        answer = requests.post(url, json={"keys": [written.key, "never-written"]}, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["items"] == {written.key: written.payload, "never-written": None}
        bad = requests.post(url, data="not json", timeout=10)
        assert bad.status_code == 400 and "keys" in bad.text


@pytest.mark.parametrize(("web", "expected"), [
    ({"app": "x:app", "command": ["x"]}, "exactly one of app .* got both"),
    ({}, "exactly one of app .* got neither"),
    ({"app": "not a callable"}, "'module:callable'"),
    ({"command": []}, "non-empty list of strings"),
    ({"command": ["x"], "start_timeout": "soon"}, "web.start_timeout"),
    ({"command": ["x"], "port": 80}, "unknown key 'port'"),
])
def test_a_bad_web_table_names_the_field(web: dict, expected: str) -> None:
    with pytest.raises(DrConfigError, match=expected) as info:
        parse_web(web, source="stack.toml", cwd=".")
    assert "stack.toml" in str(info.value)


def _service(tmp_path: Path, command: list[str], timeout: float = 5, port: int = 0) -> ServiceProcess:
    spec = parse_web({"command": command, "start_timeout": f"{timeout}s"}, source="bp.toml", cwd=str(tmp_path))
    return ServiceProcess(spec, "us-east-1", "127.0.0.1", port or _free_port(), {}, tmp_path / "service.log")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_command_that_exits_is_reported_with_its_last_output(tmp_path: Path) -> None:
    service = _service(tmp_path, [sys.executable, "-c", "print('cannot read my config'); raise SystemExit(3)"])
    with pytest.raises(DrConfigError, match=r"(?s)web\.command.*exited with status 3.*cannot read my config"):
        service.start()


def test_a_command_that_never_listens_is_stopped_and_reported(tmp_path: Path) -> None:
    service = _service(tmp_path, [sys.executable, "-c", "import time; print('warming up', flush=True); time.sleep(60)"], timeout=1)
    with pytest.raises(DrConfigError, match=r"(?s)did not listen .* within 1 s.*warming up"):
        service.start()
    assert service.process is None  # stopped, not left behind


def test_an_address_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = int(busy.getsockname()[1])
        service = _service(tmp_path, [sys.executable, "-c", "pass"], port=port)
        with pytest.raises(DrConfigError, match=f"127.0.0.1:{port} is already in use"):
            service.start()
