"""The plant server over TLS: a real server with a certificate from a throwaway CA (trustme), a client
that trusts that CA through the `ca` setting, one that does not, and plain TCP refused off loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import serverkit
import trustme
from serverkit import clean_env, copy_db, start_server

from planner_tui.access.address import parse_address
from planner_tui.access.interface import PlantUnavailable
from planner_tui.access.remote import RemotePlant

sample_plant_db = serverkit.sample_plant_db  # the fixture, by assignment (an import would shadow it)


@pytest.fixture
def ca_and_cert(tmp_path: Path) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    return ca_file, cert_file, key_file


def test_a_token_client_reads_and_triages_over_tls(sample_plant_db, tmp_path, ca_and_cert):
    ca_file, cert_file, key_file = ca_and_cert
    server = start_server(
        copy_db(sample_plant_db, tmp_path / "served"), args=("--tls-cert", str(cert_file), "--tls-key", str(key_file))
    )
    try:
        assert server.tcp.startswith("https://127.0.0.1:"), server.tcp
        token = server.add_user("tess", "planner")
        plant = RemotePlant(parse_address(server.tcp), token=token, ca=ca_file)
        try:
            assert plant.whoami() == {"user": "tess", "role": "planner", "via": "token"}
            holds = plant.holds()
            assert holds, "the sample plant has an active hold"
            done = plant.acknowledge(f"quality_hold:{holds[0]['hold_id']}")
            assert done["status"] == "acknowledged" and done["updated_by"] == "tess"
        finally:
            plant.close()

        # Without the site's CA the client refuses the server, and says what to set.
        untrusting = RemotePlant(parse_address(server.tcp), token=token)
        try:
            with pytest.raises(PlantUnavailable, match="does not trust.*PLANNER_TUI_CA"):
                untrusting.status()
        finally:
            untrusting.close()
    finally:
        assert server.stop() == 0, server.log()


def test_plain_tcp_off_loopback_is_refused_before_anything_listens(sample_plant_db, tmp_path):
    db = copy_db(sample_plant_db, tmp_path / "served")
    folder = tmp_path / "served"
    result = subprocess.run(
        [sys.executable, "-m", "planner_tui", "serve", "--db", str(db), "--listen", "tcp:0.0.0.0:0"],
        capture_output=True,
        text=True,
        env=clean_env(folder),
        cwd=folder,
        timeout=60,
    )
    assert result.returncode != 0
    assert "plain TCP is for loopback only" in result.stderr and "--tls-cert" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not Path(f"{db}.server.json").exists()
