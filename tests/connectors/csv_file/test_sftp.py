"""SFTP against a real OpenSSH server (see servers.py; skipped without sshd,
except in CI where HRSYNC_REQUIRE_SERVICES makes it a failure)."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from connections import services
from connectors.base import ConnectorError
from connectors.csv_file.connector import CsvFileConnector
from connectors.csv_file.ssh import CONNECT_ATTEMPTS
from connectors.csv_file.transport import sftp_fetch_host_key
from hrsync.people.models import Person
from tests.connections.helpers import run_sync
from tests.connectors.csv_file.servers import KEY_PASSPHRASE, free_port

ROSTER = (
    "Staff No,First Name,Last Name,Email,Status,Manager\n"
    "1,Ann,Lee,ann@example.com,Active,2\n"
    "2,Bo,Ng,bo@example.com,Active,\n"
    "3,Cy,Oh,cy@example.com,Leaver,2\n"
)


@pytest.fixture
def roster(sshd):
    sshd.write("roster.csv", ROSTER)
    return sshd.uri("roster.csv")


def sftp_connector(sshd, uri: str, *, password: str | None = None, key: str = "", passphrase: str = "",
                   host_key: str | None = None, **config) -> CsvFileConnector:
    secrets = {"password": sshd.password if password is None else password}
    if key:
        secrets = {"private_key": sshd.private_key(key), "passphrase": passphrase,
                   **({"password": password} if password else {})}
    return CsvFileConnector(
        config={"uri": uri, "username": sshd.username,
                "host_key": sshd.host_key_line() if host_key is None else host_key, **config},
        secrets=secrets,
    )


def read(connector: CsvFileConnector) -> list[str]:
    return [record.remote_id for record in connector.fetch_employees()]


def failure(connector: CsvFileConnector) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        read(connector)
    return caught.value


# -- logging in ---------------------------------------------------------------------


def test_password_login_reads_the_file(sshd, roster):
    assert read(sftp_connector(sshd, roster)) == ["1", "2", "3"]


@pytest.mark.parametrize("key", ["ed25519", "rsa", "rsa_pem", "ecdsa"])
def test_key_login_reads_the_file(sshd, roster, key):
    assert read(sftp_connector(sshd, roster, key=key)) == ["1", "2", "3"]


@pytest.mark.parametrize("key", ["ed25519_passphrase", "rsa_pem_passphrase"])
def test_key_and_passphrase_login_reads_the_file(sshd, roster, key):
    assert read(sftp_connector(sshd, roster, key=key, passphrase=KEY_PASSPHRASE)) == ["1", "2", "3"]


def test_password_and_key_and_passphrase_together(sshd, roster):
    connector = sftp_connector(sshd, roster, key="ed25519_passphrase", passphrase=KEY_PASSPHRASE,
                               password=sshd.password)
    assert read(connector) == ["1", "2", "3"]


def test_a_wrong_password_is_a_clear_permanent_error(sshd, roster):
    error = failure(sftp_connector(sshd, roster, password="not-the-password"))
    assert error.message == (
        "The SFTP server rejected the username, password or key. Check them in the connection settings."
    )
    assert error.permanent


def test_an_unknown_key_is_rejected_like_a_wrong_password(sshd, roster):
    error = failure(sftp_connector(sshd, roster, key="stranger"))
    assert "rejected the username, password or key" in error.message


def test_a_wrong_passphrase_says_so(sshd, roster):
    error = failure(sftp_connector(sshd, roster, key="ed25519_passphrase", passphrase="nope"))
    assert error.message.startswith("The passphrase does not unlock the private key.")


def test_a_failed_login_logs_no_secret(sshd, roster, caplog):
    caplog.set_level(logging.DEBUG)
    failure(sftp_connector(sshd, roster, password="Wrong-Pw-unmistakable-31"))
    failure(sftp_connector(sshd, roster, key="ed25519_passphrase", passphrase="Wrong-Pp-unmistakable-77"))
    check = sftp_connector(sshd, roster, password="Wrong-Pw-unmistakable-31").check()

    key_lines = sshd.private_key("ed25519_passphrase").splitlines()[1:-1]
    text = caplog.text + check.message
    assert "Wrong-Pw-unmistakable-31" not in text
    assert "Wrong-Pp-unmistakable-77" not in text
    assert sshd.password not in text
    assert not any(line in text for line in key_lines)
    assert caplog.records  # something was logged, so the assertions above mean something


# -- host keys ----------------------------------------------------------------------


def test_without_a_pinned_key_hrsync_refuses_and_shows_the_offered_fingerprint(sshd, roster):
    error = failure(sftp_connector(sshd, roster, host_key=""))
    assert error.permanent
    assert "not pinned yet" in error.message
    assert sshd.host_fingerprint("ed25519") in error.message

    check = sftp_connector(sshd, roster, host_key="").check()
    assert not check.ok and sshd.host_fingerprint("ed25519") in check.message


def test_a_host_key_mismatch_shows_both_fingerprints(sshd, roster):
    other = (sshd.client_keys["stranger"].parent / "id_stranger.pub").read_text()
    error = failure(sftp_connector(sshd, roster, host_key=other))
    from tests.connectors.csv_file.servers import keygen_fingerprint

    expected = keygen_fingerprint(sshd.client_keys["stranger"].parent / "id_stranger.pub")
    assert error.message == (
        f"The SFTP server's host key has changed: expected {expected}, offered "
        f"{sshd.host_fingerprint('ed25519')}. If the server was rebuilt, pin the new key."
    )
    assert error.permanent


def test_a_fingerprint_mismatch_shows_both_fingerprints(sshd, roster):
    wrong = "SHA256:" + "Q" * 43
    error = failure(sftp_connector(sshd, roster, host_key=wrong))
    assert f"expected {wrong}, offered {sshd.host_fingerprint('ed25519')}" in error.message


def test_a_sha256_fingerprint_pin_works(sshd, roster):
    assert read(sftp_connector(sshd, roster, host_key=sshd.host_fingerprint("ed25519"))) == ["1", "2", "3"]


def test_a_fingerprint_of_the_servers_other_key_works_too(sshd, roster):
    assert read(sftp_connector(sshd, roster, host_key=sshd.host_fingerprint("rsa"))) == ["1", "2", "3"]


def test_a_known_hosts_line_of_the_rsa_key_works(sshd, roster):
    line = f"[127.0.0.1]:{sshd.port} {sshd.host_key_line('rsa')}"
    assert read(sftp_connector(sshd, roster, host_key=line)) == ["1", "2", "3"]


def test_asking_the_server_for_its_other_key_types_logs_no_error(sshd, roster, caplog):
    # The server has no ECDSA key: hrsync's retry for the pinned RSA key
    # asks for one on the way, and that refusal is expected.
    caplog.set_level(logging.DEBUG)
    assert read(sftp_connector(sshd, roster, host_key=sshd.host_fingerprint("rsa"))) == ["1", "2", "3"]

    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert "IncompatiblePeer" not in caplog.text
    assert caplog.records  # paramiko logged the session, so the assertions above mean something


def test_paramikos_errors_outside_the_key_type_retry_are_still_logged(caplog):
    # Not an SSH server: it answers every connection with a line of junk.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_with_junk() -> None:
        with listener:
            for _ in range(CONNECT_ATTEMPTS):
                conn, _address = listener.accept()
                with conn:
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    threading.Thread(target=answer_with_junk, daemon=True).start()
    connector = CsvFileConnector(
        config={"uri": f"sftp://127.0.0.1:{port}/x.csv", "username": "u", "host_key": "SHA256:" + "Q" * 43},
        secrets={"password": "p"},
    )

    error = failure(connector)

    assert "did not answer as an SSH server" in error.message
    assert any(r.name.startswith("paramiko") and r.levelno == logging.ERROR for r in caplog.records)


def test_fetching_the_host_key_gives_the_servers_real_fingerprint(sshd, roster):
    line, fingerprint = sftp_fetch_host_key(roster)
    assert fingerprint == sshd.host_fingerprint("ed25519")
    host, key_type, blob = line.split()
    assert host == f"[127.0.0.1]:{sshd.port}" and key_type == "ssh-ed25519"
    assert blob == sshd.host_key_line("ed25519").split()[1]
    # …and pinning it lets the connection in.
    assert read(sftp_connector(sshd, roster, host_key=line)) == ["1", "2", "3"]


# -- files ----------------------------------------------------------------------------


def test_a_missing_file_is_named(sshd):
    error = failure(sftp_connector(sshd, sshd.uri("nobody.csv")))
    assert error.message == f"No file at {sshd.data_dir / 'nobody.csv'} on 127.0.0.1."
    assert error.permanent


def test_a_file_the_account_may_not_read(sshd):
    sshd.write("secret.csv", ROSTER, mode=0o600)  # owned by root
    error = failure(sftp_connector(sshd, sshd.uri("secret.csv")))
    assert "permission denied" in error.message and error.permanent


def test_a_folder_is_not_a_file(sshd):
    (sshd.data_dir / "folder.csv").mkdir(exist_ok=True)
    assert "is a folder" in failure(sftp_connector(sshd, sshd.uri("folder.csv"))).message


def test_an_unreachable_server_is_transient(sshd):
    connector = CsvFileConnector(
        config={"uri": f"sftp://127.0.0.1:{free_port()}/x.csv", "username": "u",
                "host_key": sshd.host_fingerprint()},
        secrets={"password": "p"},
    )
    error = failure(connector)
    assert error.message.startswith("Could not reach 127.0.0.1:") and "refused" in error.message
    assert not error.permanent


def test_a_file_larger_than_one_read_window_arrives_whole(sshd):
    rows = "".join(f"{i},First{i},Last{i},p{i}@example.com,Active,\n" for i in range(1, 40_001))
    sshd.write("big.csv", "Staff No,First Name,Last Name,Email,Status,Manager\n" + rows)
    ids = read(sftp_connector(sshd, sshd.uri("big.csv")))
    assert len(ids) == 40_000 and ids[-1] == "40000"


def test_check_previews_the_file(sshd, roster):
    check = sftp_connector(sshd, roster).check()
    assert check.ok, check.message
    assert check.message == (
        f"Read 127.0.0.1:{sshd.port}{sshd.data_dir / 'roster.csv'}: 6 columns; the first rows map as shown."
    )
    assert [row["first_name"] for row in check.sample] == ["Ann", "Bo", "Cy"]


# -- a whole sync ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_whole_sync_over_sftp_creates_people(sshd, roster):
    connection = services.connection_create(
        kind="csv_file",
        name="SFTP roster",
        config={"uri": roster, "username": sshd.username, "host_key": sshd.host_key_line()},
        secrets={"private_key": sshd.private_key("ed25519_passphrase"), "passphrase": KEY_PASSPHRASE},
    )
    run = run_sync(connection)

    assert run.status == "succeeded", run.error
    people = {p.email: p for p in Person.objects.select_related("manager")}
    assert set(people) == {"ann@example.com", "bo@example.com"}  # 3 is a leaver
    assert people["ann@example.com"].manager == people["bo@example.com"]
    connection.refresh_from_db()
    assert connection.last_check_ok


def test_a_path_under_the_accounts_home_folder(sshd):
    import pwd
    from pathlib import Path

    home = Path(pwd.getpwnam(sshd.username).pw_dir)
    target = home / "hrsync-home-roster.csv"
    target.write_text(ROSTER)
    target.chmod(0o644)
    try:
        uri = f"sftp://127.0.0.1:{sshd.port}/~/hrsync-home-roster.csv"
        assert read(sftp_connector(sshd, uri)) == ["1", "2", "3"]
    finally:
        target.unlink()
