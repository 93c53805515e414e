"""The `tsnhub` command line as a user types it."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

SUBCOMMANDS = [
    ["serve"], ["pki"], ["pki", "init"], ["db"], ["db", "upgrade"], ["vihf"], ["vihf", "issue"], ["validate"],
    ["xdm"], ["xdm", "import"], ["xdm", "export"], ["conformance"], ["conformance", "list"], ["conformance", "run"],
]


def run(command: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=120)


def test_help_describes_every_command(tsnhub_executable: list[str]) -> None:
    result = run(tsnhub_executable, "--help")
    assert result.returncode == 0
    for name in ("serve", "pki", "db", "vihf", "validate", "xdm", "conformance"):
        assert name in result.stdout


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_each_subcommand_has_help(tsnhub_executable: list[str], words: list[str]) -> None:
    result = run(tsnhub_executable, *words, "--help")
    assert result.returncode == 0
    assert "usage: tsnhub " + " ".join(words) in result.stdout


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_unknown_option_exits_2_with_one_line(tsnhub_executable: list[str], words: list[str]) -> None:
    result = run(tsnhub_executable, *words, "--no-such-option")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    # argparse names a missing required argument before an unknown one.
    assert "--no-such-option" in result.stderr or "required" in result.stderr


def test_pki_init_writes_the_contract_files_and_is_idempotent(tsnhub_executable: list[str], tmp_path: Path) -> None:
    target = tmp_path / "pki"
    assert run(tsnhub_executable, "pki", "init", "--dir", str(target)).returncode == 0
    names = {"ca.pem", "server.pem", "server.key", "client.pem", "client.key", "vihf-signer.pem", "vihf-signer.key"}
    assert names <= {p.name for p in target.iterdir()}
    before = (target / "ca.pem").read_bytes()
    again = run(tsnhub_executable, "pki", "init", "--dir", str(target))
    assert again.returncode == 0 and (target / "ca.pem").read_bytes() == before
    forced = run(tsnhub_executable, "pki", "init", "--dir", str(target), "--force")
    assert forced.returncode == 0 and (target / "ca.pem").read_bytes() != before
    ca = x509.load_pem_x509_certificate((target / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((target / "server.pem").read_bytes())
    client = x509.load_pem_x509_certificate((target / "client.pem").read_bytes())
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert oct((target / "server.key").stat().st_mode & 0o777) == "0o600"


def test_pki_init_refuses_to_complete_a_partial_pki(tsnhub_executable: list[str], tmp_path: Path) -> None:
    target = tmp_path / "pki"
    target.mkdir()
    (target / "ca.pem").write_text("not mine")
    result = run(tsnhub_executable, "pki", "init", "--dir", str(target))
    assert result.returncode == 1
    assert (target / "ca.pem").read_text() == "not mine"


def test_db_upgrade_creates_the_store(tsnhub_executable: list[str], tmp_path: Path) -> None:
    result = run(tsnhub_executable, "db", "upgrade", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tsnhub.sqlite").exists()


def test_bad_configuration_is_reported_not_ignored(tsnhub_executable: list[str], tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("[server]\nhttps_prot = 8443\n")
    result = run(tsnhub_executable, "db", "upgrade", "--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "https_prot" in result.stderr


def test_serve_without_pki_says_how_to_make_one(tsnhub_executable: list[str], tmp_path: Path) -> None:
    result = run(tsnhub_executable, "serve", "--data-dir", str(tmp_path / "data"), "--https-port", "0", "--mllp-port", "0")
    assert result.returncode == 1
    assert "tsnhub pki init" in result.stderr
