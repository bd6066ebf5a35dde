"""The web UI of a CSV file connection (file:// rosters): Save and test with
the preview, the column-mapping page, a sync with the mapping, and the
private key field. Pin this key, against a real sshd, is in test_views_pin.py."""

from __future__ import annotations

import json
import re
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.urls import reverse

from connections import services
from connections.models import Connection
from hrsync.people.models import Person
from tests.connections.helpers import run_sync
from tests.connections.slow_vendor import SilentServer, SlowServer

ROSTER = (
    "Staff No,First Name,Surname,Email,Status\n"
    "1,Ann,Lee,ann@example.com,Active\n"
    "2,Bo,Ng,bo@example.com,On Leave\n"
    "3,Cy,Oh,cy@example.com,Active\n"
)
#: Header names hrsync cannot guess, so the admin maps them by hand.
ODD_ROSTER = (
    "Emp Code,Known As,Family,E-mail,State,Boss,Grade\n"
    "E1,Ann,Lee,ann@example.com,Active,E3,G7\n"
    "E2,Bo,Ng,bo@example.com,Active,E3,G5\n"
    "E3,Cy,Oh,cy@example.com,Active,,G9\n"
)
PREVIEW = "as they will map to person fields"


# -- fixtures and helpers ----------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("admin", "admin@example.com", is_staff=True)


@pytest.fixture
def client(client, staff):
    client.force_login(staff)
    return client


def csv_form(uri: str, **overrides: str) -> dict[str, str]:
    """Step 2 of a new CSV file connection, as a browser sends it."""
    return {
        "name": "Staff file",
        "config-uri": uri,
        "config-username": "",
        "config-password": "",
        "config-private_key": "",
        "config-passphrase": "",
        "config-host_key": "",
        "config-ca_bundle": "",
        "config-delimiter": "auto",
        "config-encoding": "utf-8",
        "config-quotechar": '"',
        "config-has_header": "on",
        "config-date_format": "%Y-%m-%d",
        **overrides,
    }


def create(client, uri: str, **overrides: str):
    response = client.post(reverse("connections:new") + "?kind=csv_file", csv_form(uri, **overrides), follow=True)
    assert response.status_code == 200
    return Connection.objects.get(name="Staff file"), response


def preview_rows(html: str) -> list[list[str]]:
    """The preview table's body, cell by cell."""
    match = re.search(r'<div class="table-wrap check-preview">(.*?)</table>', html, re.S)
    if match is None:
        return []
    body = match.group(1).split("<tbody>")[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def preview_headers(html: str) -> list[str]:
    match = re.search(r'<div class="table-wrap check-preview">.*?<thead>(.*?)</thead>', html, re.S)
    return re.findall(r"<th[^>]*>(.*?)</th>", match.group(1)) if match else []


def columns_url(connection: Connection) -> str:
    return reverse("connections:csv_file:columns", args=[connection.pk])


def mapping(page, targets: dict[str, str], *, key: str | list[str], status: str = "column") -> dict:
    """The column page's form as a browser sends it: ``targets`` is column
    label → what it maps to ("custom.grade" for a custom field); the rest
    are ignored."""
    form = page.context["form"]
    data: dict = {"seen_columns": form.columns_signature, "key_column": key, "status_source": status}
    for row in form.rows():
        target = targets.get(row["column"].label, "")
        custom = ""
        if target.startswith("custom."):
            target, custom = "custom", target.removeprefix("custom.")
        data[f"target_{row['index']}"] = target
        data[f"custom_{row['index']}"] = custom
    return data


def selected(page) -> dict[str, str]:
    """Column label → the target pre-selected for it."""
    form = page.context["form"]
    return {row["column"].label: row["target"].value() for row in form.rows()}


# -- Save and test: the green bar and the preview ----------------------------------------


def test_creating_a_csv_connection_shows_the_green_bar_and_the_preview_rows(client, write_csv):
    connection, response = create(client, write_csv(ROSTER))

    # The Column mapping page is the next step of a new CSV connection.
    assert response.redirect_chain[-1][0] == columns_url(connection)
    html = response.content.decode()
    assert '<p class="health ok" role="status">' in html
    assert f"Preview: the first 3 rows {PREVIEW}" in html
    assert preview_headers(html) == [
        "Line", "Unique key", "Employee reference", "First name", "Last name", "Email", "Status",
    ]
    assert preview_rows(html) == [
        ["2", "1", "1", "Ann", "Lee", "ann@example.com", "Active"],
        ["3", "2", "2", "Bo", "Ng", "bo@example.com", "On Leave"],
        ["4", "3", "3", "Cy", "Oh", "cy@example.com", "Active"],
    ]
    # Nothing new is stored for the preview: it was shown once and is gone.
    assert set(Connection.objects.get(pk=connection.pk).config) == {
        "uri", "delimiter", "encoding", "quotechar", "has_header", "date_format", "columns", "all_active",
    }
    assert f"hrsync.check.{connection.pk}" not in client.session
    again = client.get(reverse("connections:overview", args=[connection.pk])).content.decode()
    assert PREVIEW not in again
    assert '<p class="health ok" role="status">' in again


def test_the_preview_shows_the_first_ten_rows_of_a_longer_file(client, write_csv):
    rows = "".join(f"{n},P{n},Q{n},p{n}@example.com,Active\n" for n in range(1, 26))
    _connection, response = create(client, write_csv("Staff No,First Name,Surname,Email,Status\n" + rows))

    html = response.content.decode()
    assert f"Preview: the first 10 rows {PREVIEW}" in html
    assert [row[1] for row in preview_rows(html)] == [str(n) for n in range(1, 11)]


def test_a_row_with_problems_shows_them_in_the_preview(client, write_csv):
    _connection, response = create(
        client, write_csv("Staff No,First Name,Email,Start Date,Status\n1,Ann,ann@example.com,31/01/2020,Active\n")
    )
    html = response.content.decode()
    assert "Problems" in preview_headers(html)
    assert "is not a date (YYYY-MM-DD)" in preview_rows(html)[0][-1]


def test_test_connection_shows_the_preview_on_the_page_it_returns_to(client, write_csv):
    connection, _ = create(client, write_csv(ROSTER))
    settings_url = reverse("connections:settings", args=[connection.pk])

    response = client.post(reverse("connections:test", args=[connection.pk]), {"next": settings_url}, follow=True)

    assert response.redirect_chain[-1][0] == settings_url
    assert f"Preview: the first 3 rows {PREVIEW}" in response.content.decode()


def test_saving_the_settings_tests_again_and_shows_the_preview(client, write_csv):
    connection, _ = create(client, write_csv(ROSTER))
    page = client.get(reverse("connections:settings", args=[connection.pk]))
    data = {
        "name": "Staff file", "sync_interval_hours": "1", "safeguard_percent": "20", "safeguard_min": "5",
        **{k: v for k, v in csv_form(connection.config["uri"], **{"config-delimiter": ","}).items() if k != "name"},
        **{key: value for key, value in _status_rows(page).items()},
    }
    response = client.post(reverse("connections:settings", args=[connection.pk]), data, follow=True)

    html = response.content.decode()
    assert "Settings saved." in html
    assert f"Preview: the first 3 rows {PREVIEW}" in html
    assert Connection.objects.get(pk=connection.pk).config["delimiter"] == ","


def _status_rows(page) -> dict[str, str]:
    formset = page.context["status_formset"]
    data = {f"status-{k}": v for k, v in formset.management_form.initial.items()}
    for i, row in enumerate(formset.forms):
        data[f"status-{i}-vendor_status"] = row.initial.get("vendor_status", "")
        data[f"status-{i}-person_status"] = row.initial.get("person_status", "")
        if row.initial.get("existing"):
            data[f"status-{i}-existing"] = "True"
    return data


def test_a_failed_first_check_keeps_the_form_shows_no_preview_and_names_the_missing_file(client, tmp_path):
    response = client.post(reverse("connections:new") + "?kind=csv_file", csv_form(f"file://{tmp_path}/nope.csv"))

    assert response.status_code == 400
    assert Connection.objects.count() == 0
    html = response.content.decode()
    assert f"No file at {tmp_path}/nope.csv" in html
    assert ">Save anyway</button>" in html
    assert "After saving, the Column mapping page comes next." in html
    assert PREVIEW not in html
    assert ">Pin this key</button>" not in html  # only an sftp:// host key can be pinned

    connection, response = create(client, f"file://{tmp_path}/nope.csv", save_anyway="1")

    assert '<p class="health bad" role="alert">' in response.content.decode()
    assert f"No file at {tmp_path}/nope.csv" in connection.last_check_message


def test_other_connectors_samples_are_not_shown_as_a_preview(client, settings):
    settings.HRSYNC_SAMPLE_CONNECTOR = True
    # The Sample connector's check has a sample of its raw records: not person fields.
    response = client.post(reverse("connections:new") + "?kind=sample", {"name": "Demo", "config-size": "20", "config-seed": "1"}, follow=True)
    assert response.status_code == 200
    assert PREVIEW not in response.content.decode()


# -- the column-mapping page ------------------------------------------------------------


def test_the_overview_and_settings_link_to_the_column_page(client, write_csv):
    connection, _ = create(client, write_csv(ROSTER))
    for name in ("overview", "settings"):
        html = client.get(reverse(f"connections:{name}", args=[connection.pk])).content.decode()
        assert f'href="{columns_url(connection)}"' in html, name


def test_the_column_page_lists_the_headers_with_suggestions(client, write_csv):
    connection, _ = create(client, write_csv(ROSTER))

    page = client.get(columns_url(connection))

    assert page.status_code == 200
    html = page.content.decode()
    for header in ("Staff No", "First Name", "Surname", "Email", "Status"):
        assert f'<th scope="row">{header}</th>' in html
    assert selected(page) == {
        "Staff No": "employee_reference", "First Name": "first_name", "Surname": "last_name",
        "Email": "email", "Status": "status",
    }
    assert "suggestions from the header names" in html
    # The first row helps to recognise each column; the key is the employee id.
    assert '<td class="example">ann@example.com</td>' in html
    assert re.search(r'<input type="radio" name="key_column" value="Staff No" id="id_key_0" checked>', html)
    assert page.context["form"]["status_source"].value() == "column"
    # Every person field, location, manager, status, custom and ignore are offered.
    options = re.findall(r'<option value="([^"]*)"', html.split('name="target_0"')[1].split("</select>")[0])
    assert options == [
        "", "first_name", "last_name", "email", "date_of_birth", "gender", "employee_reference",
        "mobile_phone", "work_phone", "home_phone", "job_title", "hire_date", "termination_date",
        "location", "manager", "status", "custom",
    ]


def test_a_saved_mapping_then_a_sync_creates_people_with_the_mapped_fields(
    client, write_csv, django_capture_on_commit_callbacks
):
    # Nothing says where the status comes from yet: the first test says so, and
    # Save anyway leads to the Column mapping page that fixes it.
    refused = client.post(reverse("connections:new") + "?kind=csv_file", csv_form(write_csv(ODD_ROSTER)))
    assert "cannot tell whose status is what" in refused.content.decode()
    connection, response = create(client, write_csv(ODD_ROSTER), save_anyway="1")
    assert response.redirect_chain[-1][0] == columns_url(connection)
    page = client.get(columns_url(connection))
    assert selected(page)["E-mail"] == "email"  # the one header hrsync recognises

    data = mapping(page, {
        "Emp Code": "employee_reference", "Known As": "first_name", "Family": "last_name",
        "E-mail": "email", "State": "status", "Boss": "manager", "Grade": "custom.grade",
    }, key="Emp Code")
    response = client.post(columns_url(connection), data, follow=True)

    assert response.redirect_chain[-1][0] == columns_url(connection)
    html = response.content.decode()
    assert "Column mapping saved." in html
    assert '<p class="health ok" role="status">' in html
    assert f"Preview: the first 3 rows {PREVIEW}" in html
    assert "grade (custom field)" in preview_headers(html)
    config = Connection.objects.get(pk=connection.pk).config
    assert config["columns"] == {
        "Emp Code": "employee_reference", "Known As": "first_name", "Family": "last_name",
        "E-mail": "email", "State": "status", "Boss": "manager", "Grade": "custom.grade",
    }
    assert config["key_column"] == "Emp Code"
    assert config["all_active"] is False
    # The page shows the saved mapping now, not suggestions.
    again = client.get(columns_url(connection))
    assert selected(again)["Boss"] == "manager"
    assert again.context["form"]["custom_6"].value() == "grade"
    assert "suggestions from the header names" not in again.content.decode()

    # Sync Employees, as the Overview's menu does it.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("connections:sync", args=[connection.pk]), {"action": "employees"})
    assert response.status_code == 302
    run = connection.runs.get()
    assert run.status == "succeeded", run.error
    people = {p.employee_reference: p for p in Person.objects.select_related("manager")}
    assert set(people) == {"E1", "E2", "E3"}
    assert (people["E1"].first_name, people["E1"].last_name, people["E1"].email) == ("Ann", "Lee", "ann@example.com")
    assert people["E1"].manager == people["E3"]
    assert people["E2"].custom_fields == {"grade": "G5"}


def test_a_sync_uses_the_mapping_for_a_file_without_a_header_row(client, write_csv):
    uri = write_csv("7,Ann,Lee,ann@example.com\n8,Bo,Ng,bo@example.com\n")
    # Without a header row the first test reads the file's width; its columns are mapped next.
    connection, response = create(client, uri, **{"config-has_header": ""})
    assert response.redirect_chain[-1][0] == columns_url(connection)
    assert "4 columns and no header row" in response.content.decode()
    page = client.get(columns_url(connection))
    html = page.content.decode()
    for n in range(1, 5):
        assert f'<th scope="row">Column {n}</th>' in html
    assert selected(page) == {"Column 1": "", "Column 2": "", "Column 3": "", "Column 4": ""}

    data = mapping(page, {"Column 1": "employee_reference", "Column 2": "first_name", "Column 3": "last_name",
                          "Column 4": "email"}, key="1", status="all_active")
    response = client.post(columns_url(connection), data, follow=True)

    assert '<p class="health ok" role="status">' in response.content.decode()
    config = Connection.objects.get(pk=connection.pk).config
    assert config["columns"] == {"1": "employee_reference", "2": "first_name", "3": "last_name", "4": "email"}
    assert config["all_active"] is True
    run = run_sync(Connection.objects.get(pk=connection.pk), scope="employees")
    assert run.status == "succeeded", run.error
    assert sorted(Person.objects.values_list("employee_reference", "first_name", "status")) == [
        ("7", "Ann", "active"), ("8", "Bo", "active"),
    ]


def test_two_key_columns_are_refused_and_nothing_is_saved(client, write_csv):
    connection, _ = create(client, write_csv(ROSTER))
    before = Connection.objects.get(pk=connection.pk).config
    page = client.get(columns_url(connection))
    data = mapping(page, {"Staff No": "employee_reference", "First Name": "first_name", "Email": "email",
                          "Status": "status"}, key=["Staff No", "Email"])

    response = client.post(columns_url(connection), data)

    assert response.status_code == 400
    assert "Choose one unique key column, not 2." in response.content.decode()
    assert Connection.objects.get(pk=connection.pk).config == before


@pytest.mark.parametrize(
    ("targets", "key", "status", "message"),
    [
        ({"Staff No": "employee_reference", "First Name": "first_name", "Surname": "first_name",
          "Status": "status"}, "Staff No", "column",
         "“First Name” is already mapped to First name: map each field from one column."),
        ({"Staff No": "custom.ref", "Email": "custom.ref", "Status": "status"}, "Staff No", "column",
         "is already mapped to custom field “ref”"),
        ({"Staff No": "employee_reference", "Status": "status"}, "", "column",
         "Choose the unique key column"),
        ({"Staff No": "employee_reference"}, "Staff No", "column",
         "Map a column to Status, or choose “Everyone in the file is active”."),
        ({"Staff No": "employee_reference", "Status": "status"}, "Staff No", "all_active",
         "“Status” is mapped to Status, so not everyone in the file is active"),
        ({"Staff No": "employee_reference", "Surname": "custom.", "Status": "status"}, "Staff No", "column",
         "Enter the custom field&#x27;s key, such as shoe_size."),
        ({}, "Staff No", "all_active", "Map at least one column to a person field."),
    ],
)
def test_a_mapping_that_cannot_work_is_refused_with_the_reason(client, write_csv, targets, key, status, message):
    connection, _ = create(client, write_csv(ROSTER))
    before = Connection.objects.get(pk=connection.pk).config
    page = client.get(columns_url(connection))

    response = client.post(columns_url(connection), mapping(page, targets, key=key or [], status=status))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Connection.objects.get(pk=connection.pk).config == before


def test_a_file_whose_columns_changed_since_the_page_was_opened_is_not_mapped_blindly(client, write_csv, tmp_path):
    connection, _ = create(client, write_csv(ROSTER))
    page = client.get(columns_url(connection))
    data = mapping(page, {"Staff No": "employee_reference", "First Name": "first_name", "Status": "status"},
                   key="Staff No")
    (tmp_path / "staff.csv").write_text("Email,Staff No,First Name,Status\n", encoding="utf-8")

    response = client.post(columns_url(connection), data)

    assert response.status_code == 400
    assert "The file&#x27;s columns have changed since this page was opened" in response.content.decode()
    assert not Connection.objects.get(pk=connection.pk).config.get("columns")


def test_the_column_page_says_why_it_cannot_read_the_file(client, write_csv, tmp_path):
    connection, _ = create(client, write_csv(ROSTER))
    (tmp_path / "staff.csv").unlink()

    page = client.get(columns_url(connection))

    assert page.status_code == 200
    html = page.content.decode()
    assert "hrsync could not read the file’s columns: No file at" in html
    assert 'class="alert alert-error" role="alert"' in html
    assert "<select" not in html


def test_saved_columns_the_file_no_longer_has_are_pointed_out(client, write_csv):
    uri = write_csv(ROSTER)
    connection = services.connection_create(kind="csv_file", name="Staff file", config={
        "uri": uri, "columns": json.dumps({"Staff No": "employee_reference", "Payroll": "custom.payroll",
                                           "Status": "status"}),
    })
    html = client.get(columns_url(connection)).content.decode()
    assert "The saved mapping names a column the file does not have: “Payroll”." in html


def test_settings_made_elsewhere_are_what_the_column_page_shows(client, write_csv):
    # Set with the CLI: a status column that the header names would not suggest,
    # and a key column; the rest is still automatic.
    uri = write_csv("Staff No,First Name,Email,State,Status\n1,Ann,ann@example.com,Active,x\n")
    connection = services.connection_create(kind="csv_file", name="Staff file", config={
        "uri": uri, "status_column": "State", "key_column": "Email",
    })
    page = client.get(columns_url(connection))
    assert selected(page) == {"Staff No": "employee_reference", "First Name": "first_name", "Email": "email",
                              "State": "status", "Status": ""}
    assert page.context["form"]["key_column"].value() == ["Email"]

    services.connection_update(connection=connection, config={"status_column": "", "all_active": "true"})
    page = client.get(columns_url(connection))
    assert selected(page)["Status"] == "" and selected(page)["State"] == ""
    assert page.context["form"]["status_source"].value() == "all_active"


def test_connectors_without_column_mapping_have_no_column_page(client):
    connection = services.connection_create(
        kind="actionhrm", name="Acme", config={"subdomain": "acme", "username": "u"}, secrets={"password": "p"}
    )
    assert client.get(columns_url(connection)).status_code == 404
    overview = client.get(reverse("connections:overview", args=[connection.pk])).content.decode()
    assert "Column mapping" not in overview


def test_other_connectors_have_no_pin_this_key_and_nothing_is_saved(client):
    connection = services.connection_create(
        kind="actionhrm", name="Acme", config={"subdomain": "acme", "username": "u"}, secrets={"password": "p"}
    )
    pin_url = reverse("connections:csv_file:pin_host_key", args=[connection.pk])

    response = client.post(pin_url, {"fingerprint": "SHA256:" + "Q" * 43})

    assert response.status_code == 404
    assert Connection.objects.get(pk=connection.pk).config == connection.config


# -- the private key field ------------------------------------------------------------------


def _private_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def test_the_private_key_is_an_always_empty_textarea(client):
    key = _private_key()
    body = key.splitlines()[1]
    new_page = client.get(reverse("connections:new") + "?kind=csv_file").content.decode()
    assert re.search(r'<textarea name="config-private_key"[^>]*>\s*</textarea>', new_page)
    assert re.search(r'<input type="password" name="config-password"', new_page)
    assert re.search(r'<input type="password" name="config-passphrase"', new_page)

    # A form that fails validation does not send the typed key back.
    refused = client.post(
        reverse("connections:new") + "?kind=csv_file",
        csv_form("sftp://files.example.com/staff.csv", **{
            "name": "", "config-username": "hrsync", "config-private_key": key, "config-password": "Pw-Echo-9x",
        }),
    )
    assert refused.status_code == 400
    assert body not in refused.content.decode()
    assert "Pw-Echo-9x" not in refused.content.decode()

    connection = services.connection_create(kind="csv_file", name="Staff file", config={
        "uri": "sftp://files.example.com/staff.csv", "username": "hrsync",
    }, secrets={"private_key": key})
    settings_page = client.get(reverse("connections:settings", args=[connection.pk])).content.decode()
    textarea = re.search(r'<textarea name="config-private_key"[^>]*>(.*?)</textarea>', settings_page, re.S)
    assert textarea and textarea.group(1).strip() == ""
    assert "Saved — leave blank to keep." in settings_page
    assert body not in settings_page
    assert Connection.objects.get(pk=connection.pk).secrets["private_key"].strip() == key.strip()


# -- a file server slower than a page may wait ------------------------------------------------
#
# A page waits on the file's server at most HRSYNC_WEB_CHECK_SECONDS (1 s
# here), however long the server takes (5 s here).

DEADLINE = 1
MARGIN = 2.0
PIN = "SHA256:" + "Q" * 43


def stopped(host_port: str, *, saved: bool) -> str:
    then = "The settings were saved; the next sync" if saved else "The next sync"
    return (
        f"The server at {host_port} did not answer within 1 second, so the check stopped. "
        f"{then} will try again with the full time allowance (60 s per request, with retries)."
    )


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.fixture
def slow_file(settings):
    settings.HRSYNC_ALLOW_INSECURE_LOOPBACK = True  # a stand-in web server on 127.0.0.1, over http
    settings.HRSYNC_WEB_CHECK_SECONDS = DEADLINE
    server = SlowServer(delay=5, body=ROSTER.encode(), content_type="text/csv").start()
    yield server
    server.stop()


@pytest.fixture
def silent_sftp(settings):
    settings.HRSYNC_OUTBOUND_ALLOW = ["127.0.0.1"]  # deployed-mode runs refuse the loopback otherwise
    settings.HRSYNC_WEB_CHECK_SECONDS = DEADLINE
    server = SilentServer(delay=5)
    yield server
    server.stop()


def sftp_connection(server: SilentServer) -> Connection:
    return services.connection_create(kind="csv_file", name="Staff file", config={
        "uri": f"sftp://127.0.0.1:{server.port}/exports/staff.csv", "username": "hrsync", "host_key": PIN,
    }, secrets={"password": "Pw-9x"})


def test_the_column_page_stops_waiting_for_a_slow_file_server(client, slow_file):
    uri = f"{slow_file.url}/staff.csv"
    connection = services.connection_create(kind="csv_file", name="Staff file", config={"uri": uri})

    page, took = timed(lambda: client.get(columns_url(connection)))

    assert took < DEADLINE + MARGIN
    assert page.status_code == 200
    html = page.content.decode()
    assert stopped(slow_file.url.removeprefix("http://"), saved=False) in html
    assert "<select" not in html
    assert slow_file.requests == ["/staff.csv"]


def test_saving_the_mapping_stops_waiting_for_a_slow_file_server_and_changes_nothing(client, slow_file):
    uri = f"{slow_file.url}/staff.csv"
    connection = services.connection_create(kind="csv_file", name="Staff file", config={"uri": uri})
    before = Connection.objects.get(pk=connection.pk).config

    response, took = timed(lambda: client.post(columns_url(connection), {"key_column": "Staff No"}))

    assert took < DEADLINE + MARGIN
    assert response.status_code == 400
    assert stopped(slow_file.url.removeprefix("http://"), saved=False) in response.content.decode()
    assert Connection.objects.get(pk=connection.pk).config == before


def test_test_connection_stops_waiting_for_an_sftp_server_that_never_answers(client, silent_sftp):
    connection = sftp_connection(silent_sftp)

    response, took = timed(lambda: client.post(reverse("connections:test", args=[connection.pk])))

    assert took < DEADLINE + MARGIN
    assert response.status_code == 302
    saved = Connection.objects.get(pk=connection.pk)
    assert saved.last_check_ok is False
    assert saved.last_check_message == stopped(f"127.0.0.1:{silent_sftp.port}", saved=False)
    assert silent_sftp.accepted >= 1


def test_pin_this_key_stops_waiting_for_an_sftp_server_that_never_answers(client, silent_sftp):
    connection = sftp_connection(silent_sftp)

    response, took = timed(lambda: client.post(
        reverse("connections:csv_file:pin_host_key", args=[connection.pk]), {"fingerprint": PIN}, follow=True
    ))

    assert took < DEADLINE + MARGIN
    assert response.status_code == 200
    flashed = [str(m) for m in response.context["messages"]]
    assert flashed == [f"Nothing was pinned: {stopped(f'127.0.0.1:{silent_sftp.port}', saved=False)}"]
    assert Connection.objects.get(pk=connection.pk).config["host_key"] == PIN


# -- the settings form: grouped, per scheme, no columns box ---------------------------------


def new_csv_page(client) -> str:
    return client.get(reverse("connections:new"), {"kind": "csv_file"}).content.decode()


def fieldset(html: str, legend: str) -> str:
    match = re.search(rf'<fieldset class="config-section">\s*<legend>{re.escape(legend)}</legend>(.*?)</fieldset>', html, re.S)
    assert match, f"no fieldset {legend!r}"
    return match.group(1)


def test_the_csv_form_is_grouped_where_the_file_is_how_to_sign_in_how_it_is_written(client):
    html = new_csv_page(client)

    where, sign_in, written = (
        fieldset(html, legend)
        for legend in ("Where the file is", "How to sign in", "How the file is written")
    )
    assert 'name="config-uri"' in where and 'name="config-host_key"' in where and 'name="config-ca_bundle"' in where
    for name in ("username", "password", "private_key", "passphrase"):
        assert f'name="config-{name}"' in sign_in
    for name in ("delimiter", "encoding", "quotechar", "has_header", "date_format"):
        assert f'name="config-{name}"' in written
    # Which fields are for which address: said in words, and marked for the script.
    assert "Fields marked SFTP are for an sftp:// address, those marked HTTPS for an https:// address." in where
    assert re.search(r'<textarea name="config-host_key"[^>]*data-schemes="sftp"', where)
    assert re.search(r'<textarea name="config-ca_bundle"[^>]*data-schemes="https"', where)
    assert re.search(r'<input type="text" name="config-username"[^>]*data-schemes="sftp https"', sign_in)
    assert re.search(r'<input type="text" name="config-uri"[^>]*data-scheme-source', where)


def test_the_columns_are_left_to_the_column_mapping_page(client):
    html = new_csv_page(client)

    for name in ("columns", "key_column", "manager_column", "status_column", "all_active"):
        assert f'name="config-{name}"' not in html
    assert "<textarea" in html and "JSON" not in html and "{&quot;" not in html


def test_saving_the_settings_keeps_the_mapping_the_column_page_saved(client, write_csv):
    connection, _ = create(client, write_csv(ROSTER))
    services.connection_update(connection=connection, config={"columns": {"Staff No": "employee_reference",
                                                                          "Email": "email", "Status": "status"}})
    page = client.get(reverse("connections:settings", args=[connection.pk]))
    data = {
        "name": "Staff file", "sync_interval_hours": "1", "safeguard_percent": "20", "safeguard_min": "5",
        **{k: v for k, v in csv_form(connection.config["uri"], **{"config-delimiter": ","}).items() if k != "name"},
        **_status_rows(page),
    }

    client.post(reverse("connections:settings", args=[connection.pk]), data)

    config = Connection.objects.get(pk=connection.pk).config
    assert config["delimiter"] == ","
    assert config["columns"] == {"Staff No": "employee_reference", "Email": "email", "Status": "status"}


def test_the_date_format_is_a_choice_of_dates_an_admin_recognises_with_other_for_the_rest(client):
    html = new_csv_page(client)

    select = re.search(r'<select name="config-date_format".*?</select>', html, re.S).group(0)
    assert '<option value="%Y-%m-%d" selected>2024-01-31 (YYYY-MM-DD)</option>' in select
    for label in ("31/01/2024 (DD/MM/YYYY)", "01/31/2024 (MM/DD/YYYY)", "31.01.2024 (DD.MM.YYYY)",
                  "31-01-2024 (DD-MM-YYYY)", "31 Jan 2024 (D MMM YYYY)", ">Other…<"):
        assert label in select
    assert re.search(r'<label for="id_config-date_format_other">Other format</label>\s*'
                     r'<input type="text" name="config-date_format_other"', html)


@pytest.mark.parametrize(("choice", "other", "saved"), [
    ("%d/%m/%Y", "", "%d/%m/%Y"),
    ("other", "YYYY/DD/MM", "%Y/%d/%m"),
])
def test_the_chosen_or_typed_date_format_is_saved(client, write_csv, choice, other, saved):
    connection, _ = create(client, write_csv(ROSTER), **{"config-date_format": choice,
                                                         "config-date_format_other": other})

    assert connection.config["date_format"] == saved
    settings_page = client.get(reverse("connections:settings", args=[connection.pk])).content.decode()
    if choice == "other":  # a format not in the list is shown in the text box, "Other…" chosen
        assert '<option value="other" selected>Other…</option>' in settings_page
        assert 'name="config-date_format_other" value="%Y/%d/%m"' in settings_page
    else:
        assert f'<option value="{saved}" selected>' in settings_page


@pytest.mark.parametrize("allowed", [True, False])
def test_the_form_names_file_addresses_only_where_they_are_allowed(client, settings, allowed):
    settings.HRSYNC_ALLOW_LOCAL_FILES = allowed

    html = new_csv_page(client)

    assert ("file:///path/staff.csv" in html) is allowed
    assert "sftp://host[:port]/path/staff.csv" in html


def test_the_kind_card_says_what_a_csv_connection_does(client):
    html = client.get(reverse("connections:new")).content.decode()

    assert "Reads a CSV file of employees from an SFTP server or an HTTPS address on every sync." in html
