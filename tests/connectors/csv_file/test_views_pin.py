"""Pin this key, in the web UI, against a real OpenSSH server (servers.py;
skipped without sshd, except in CI). Lives here for this folder's sshd
fixture; the rest of the CSV file UI is test_views.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from connections import services
from connections.models import Connection
from tests.connectors.csv_file.servers import KEY_PASSPHRASE

ROSTER = (
    "Staff No,First Name,Last Name,Email,Status,Manager\n"
    "1,Ann,Lee,ann@example.com,Active,2\n"
    "2,Bo,Ng,bo@example.com,Active,\n"
)
PREVIEW = "Preview: the first 2 rows as they will map to person fields"
CONFIRM = "Only pin a key you recognise: compare {fp} with the fingerprint your server administrator gives you."


@pytest.fixture
def client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("admin", "admin@example.com", is_staff=True))
    return client


@pytest.fixture
def roster(sshd) -> str:
    sshd.write("roster.csv", ROSTER)
    return sshd.uri("roster.csv")


def new_connection(client, uri: str, **config: str):
    data = {
        "name": "SFTP roster", "config-uri": uri, "config-delimiter": "auto", "config-encoding": "utf-8",
        "config-quotechar": '"', "config-has_header": "on", "config-date_format": "%Y-%m-%d",
        **{f"config-{name}": value for name, value in config.items()},
    }
    url = reverse("connections:new") + "?kind=csv_file"
    # Without a pinned key the first test fails: the form stays open, nothing is saved…
    refused = client.post(url, data)
    assert refused.status_code == 400
    assert ">Save anyway</button>" in refused.content.decode()
    assert not Connection.objects.filter(name="SFTP roster").exists()
    # … and Save anyway saves it, so that its key can be pinned.
    response = client.post(url, {**data, "save_anyway": "1"}, follow=True)
    assert response.status_code == 200
    response.refused_page = refused.content.decode()
    return Connection.objects.get(name="SFTP roster"), response


def pin(client, connection: Connection, fingerprint: str, *, next_url: str = ""):
    data = {"fingerprint": fingerprint, **({"next": next_url} if next_url else {})}
    return client.post(reverse("connections:csv_file:pin_host_key", args=[connection.pk]), data, follow=True)


def test_without_a_pinned_key_the_red_bar_offers_the_fingerprint_and_pinning_it_turns_it_green(
    client, sshd, roster
):
    fingerprint = sshd.host_fingerprint("ed25519")
    connection, response = new_connection(client, roster, username=sshd.username, password=sshd.password)

    html = response.content.decode()
    assert '<p class="health bad" role="alert">' in html
    assert "host key is not pinned yet" in html
    assert f'<code class="fingerprint">{fingerprint}</code>' in html
    assert f'<input type="hidden" name="fingerprint" value="{fingerprint}">' in html
    assert ">Pin this key</button>" in html
    assert CONFIRM.format(fp=fingerprint) in html
    assert not Connection.objects.get(pk=connection.pk).config.get("host_key")

    response = pin(client, connection, fingerprint)

    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("connections:overview", args=[connection.pk])
    assert f"Pinned the ssh-ed25519 key {fingerprint}." in html
    assert '<p class="health ok" role="status">' in html
    assert PREVIEW in html
    assert ">Pin this key</button>" not in html
    saved = Connection.objects.get(pk=connection.pk)
    assert saved.last_check_ok is True
    # Stored as the key itself (type and base64), without the host name.
    assert saved.config["host_key"].split() == sshd.host_key_line("ed25519").split()[:2]


def test_a_fingerprint_other_than_the_servers_is_refused_and_nothing_is_pinned(client, sshd, roster):
    connection, _ = new_connection(client, roster, username=sshd.username, password=sshd.password)
    tampered = sshd.host_fingerprint("rsa")  # a real key, just not the one the server offers now

    response = pin(client, connection, tampered)

    html = response.content.decode()
    assert "Nothing was pinned: the server now offers the key" in html
    assert sshd.host_fingerprint("ed25519") in html and tampered in html
    assert '<p class="health bad" role="alert">' in html
    # The stale offer is gone: the admin must Test again and compare again.
    assert ">Pin this key</button>" not in html
    saved = Connection.objects.get(pk=connection.pk)
    assert not saved.config.get("host_key")
    assert saved.last_check_ok is False

    assert "Nothing was pinned" in pin(client, connection, "").content.decode()
    assert not Connection.objects.get(pk=connection.pk).config.get("host_key")


def test_a_changed_host_key_shows_both_fingerprints_and_offers_the_new_one(client, sshd, roster):
    stranger = Path(f"{sshd.client_keys['stranger']}.pub").read_text().split()
    connection, response = new_connection(
        client, roster, username=sshd.username, password=sshd.password,
        host_key=f"127.0.0.1 {stranger[0]} {stranger[1]}",
    )
    fingerprint = sshd.host_fingerprint("ed25519")
    html = response.content.decode()
    assert "host key has changed" in html
    assert f'<input type="hidden" name="fingerprint" value="{fingerprint}">' in html

    settings_url = reverse("connections:settings", args=[connection.pk])
    response = pin(client, connection, fingerprint, next_url=settings_url)

    assert response.redirect_chain[-1][0] == settings_url
    assert '<p class="health ok" role="status">' in response.content.decode()
    assert Connection.objects.get(pk=connection.pk).config["host_key"].split()[1] != stranger[1]


def test_test_connection_offers_the_key_and_a_wrong_password_offers_nothing(client, sshd, roster):
    connection, _ = new_connection(client, roster, username=sshd.username, password=sshd.password)
    overview = client.get(reverse("connections:overview", args=[connection.pk])).content.decode()
    # The offer stays while the bar shows the check that made it.
    assert ">Pin this key</button>" in overview
    pin(client, connection, sshd.host_fingerprint("ed25519"))

    services.connection_update(connection=Connection.objects.get(pk=connection.pk),
                               secrets={"password": "not-the-password"})
    response = client.post(reverse("connections:test", args=[connection.pk]), follow=True)

    html = response.content.decode()
    assert "rejected the username, password or key" in html
    assert ">Pin this key</button>" not in html


def test_no_page_shows_the_password_the_private_key_or_the_passphrase(client, sshd, roster):
    key_text = sshd.private_key("ed25519_passphrase")
    key_lines = [line for line in key_text.splitlines() if line and not line.startswith("-----")]
    needles = {"password": sshd.password, "passphrase": KEY_PASSPHRASE,
               **{f"key line {n}": line for n, line in enumerate(key_lines)}}
    pages: dict[str, str] = {}

    connection, response = new_connection(
        client, roster, username=sshd.username, password=sshd.password, private_key=key_text,
        passphrase=KEY_PASSPHRASE,
    )
    pages["after the failed first test"] = response.refused_page
    pages["after Save anyway"] = response.content.decode()
    pk = connection.pk
    response = pin(client, connection, sshd.host_fingerprint("ed25519"))
    pages["after Pin this key"] = response.content.decode()
    assert '<p class="health ok" role="status">' in pages["after Pin this key"]
    for name in ("overview", "settings", "csv_file:columns", "runs", "employees", "depots"):
        pages[name] = client.get(reverse(f"connections:{name}", args=[pk])).content.decode()
    page = client.get(reverse("connections:csv_file:columns", args=[pk]))
    form = page.context["form"]
    data = {"seen_columns": form.columns_signature, "key_column": "Staff No", "status_source": "column"}
    for row in form.rows():
        data[f"target_{row['index']}"] = row["target"].value()
    pages["after saving the columns"] = client.post(
        reverse("connections:csv_file:columns", args=[pk]), data, follow=True
    ).content.decode()
    pages["after Test connection"] = client.post(
        reverse("connections:test", args=[pk]), {"next": reverse("connections:settings", args=[pk])}, follow=True
    ).content.decode()
    pages["after a failed settings save"] = client.post(
        reverse("connections:settings", args=[pk]),
        {"name": "", "config-uri": roster, "config-password": sshd.password, "config-private_key": key_text,
         "config-passphrase": KEY_PASSPHRASE},
    ).content.decode()

    saved = Connection.objects.get(pk=pk)
    assert set(saved.secrets) == {"password", "private_key", "passphrase"}
    assert "Saved — leave blank to keep." in pages["settings"]
    leaks = [(page, what) for page, html in pages.items() for what, needle in needles.items() if needle in html]
    assert leaks == []
