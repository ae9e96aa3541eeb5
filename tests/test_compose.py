"""docker-compose.yml is a valid Compose file and declares the whole stack.

Uses Debian's ``docker-compose`` (v1.29) binary: ``config`` only parses, interpolates and
validates the file; it needs no Docker engine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
EXPECTED_SERVICES = {"kafka", "postgres", "topics", "intake", "routing", "supervision", "reporting", "web"}


def _compose(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("the docker-compose binary is not installed "
                    "(install it with `apt-get install docker-compose`)")
    # as an operator or CI validates it: no secret set (the services, not the file, refuse to start without them)
    env = {k: v for k, v in os.environ.items()
           if k not in ("XINFANG_PII_KEY", "XINFANG_TOKEN_SIGNING_KEY", "XINFANG_TOKEN_VERIFY_KEY")}
    return subprocess.run([binary, "-f", str(COMPOSE_FILE), "--project-directory", str(ROOT), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_compose_file_validates():
    result = _compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_declares_every_service():
    result = _compose("config", "--services")
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert EXPECTED_SERVICES <= services, f"missing: {sorted(EXPECTED_SERVICES - services)}"


def test_a_service_started_without_its_pii_secret_refuses_and_names_it(monkeypatch):
    from pydantic import ValidationError

    from xinfang.config import Settings
    monkeypatch.setenv("XINFANG_PII_KEY", "")  # what the compose file passes when the operator set none
    with pytest.raises(ValidationError, match="XINFANG_PII_KEY.*未设置"):
        Settings()


def test_the_tests_run_the_apache_kafka_that_compose_runs():
    """Operators run docker-compose.yml's image; the tests and `xinfang up --broker kafka` run the
    jars deploy/kafka/pom.xml fetches. Moving one without the others would test another broker."""
    import re
    import xml.etree.ElementTree as ET

    from xinfang.messaging.apache_kafka import KAFKA_VERSION, POM

    image = re.search(r"^\s*image:\s*apache/kafka:(\S+)\s*$", COMPOSE_FILE.read_text(), re.M)
    assert image, "docker-compose.yml runs no apache/kafka image"
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    pom_version = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns).text
    assert image.group(1) == KAFKA_VERSION == pom_version


def test_compose_tells_the_services_they_run_on_apache_kafka():
    result = _compose("config")
    assert result.returncode == 0, result.stderr
    import yaml  # docker-compose config prints YAML; PyYAML comes with the test dependencies

    services = yaml.safe_load(result.stdout)["services"]
    for name in ("intake", "routing", "supervision", "reporting"):
        assert services[name]["environment"]["XINFANG_BROKER"] == "kafka", name
