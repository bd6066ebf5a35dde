"""Forms of the connection pages.

They validate what an admin typed and turn it into the typed arguments of
``connection_create`` / ``connection_update``. The connector's own fields
are validated once, by the service, with the connector's form; the
services own every rule about what a connection may hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from connections import services
from connections.models import Connection, SyncRun
from connectors.base import Connector, FormSection
from connectors.registry import connector_class, enabled_kinds
from hrsync.people.models import Person

#: Prefix of the connector's own fields, so they never collide with ours.
CONFIG_PREFIX = "config"
SECRET_SAVED_HELP = "Saved — leave blank to keep."
#: A secret typed into a form that is shown again: it is never sent back to the page.
SECRET_RETYPE_HELP = "Type it again: hrsync never shows a password or key once it is sent."
SECRET_RETYPE_SAVED_HELP = "Type the new one again to use it (hrsync never shows it once sent); blank keeps the saved one."


class KindChoiceForm(forms.Form):
    """Step 1 of a new connection: which integration."""

    kind = forms.ChoiceField(label="Integration", widget=forms.RadioSelect, error_messages={
        "required": "Choose an integration to continue.",
        "invalid_choice": "Choose one of the integrations listed.",
    })

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, label) for kind, (label, _path) in enabled_kinds().items()]


class SecretTextarea(forms.Textarea):
    """A multi-line secret (a private key): a password input would strip its
    newlines. Like ``PasswordInput(render_value=False)`` it never renders a
    value, not even the one just typed into a form that failed validation."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        return super().get_context(name, None, attrs)


@dataclass(frozen=True, slots=True)
class ShownSection:
    """A ``FormSection`` with its bound fields, for the templates. ``legend``
    is "" for a form without sections (one group of every field)."""

    legend: str
    help: str
    fields: list[forms.BoundField]


def shown_config_fields(cls: type[Connector]) -> list[str]:
    """The connector's fields the pages show: those of its form's
    ``sections``, or every field. The others are set on the connector's own
    pages (a CSV file's columns) or by the command line, and the pages
    neither show nor send them."""
    sections: tuple[FormSection, ...] = getattr(cls.config_form, "sections", ())
    if not sections:
        return list(cls.config_form.base_fields)
    return [name for section in sections for name in section.fields]


def connector_config_form(
    cls: type[Connector],
    *,
    data: Any = None,
    connection: Connection | None = None,
    secrets_typed: bool = False,
) -> forms.Form:
    """The connector's ``config_form``, prefixed, with every secret field as an
    empty password input (an empty textarea when the connector's widget is a
    Textarea: a private key has lines). ``form.shown_sections`` groups the
    fields the page shows; ``form.unshown_errors`` are the errors of the
    others (their stored values, filled in under the posted ones).

    Secrets are never rendered back: on the settings page a stored secret makes
    its field optional, and a blank value keeps it (the service does that).
    ``secrets_typed``: the page is shown again after a post, so a secret the
    admin typed is asked for again.
    """
    initial = {}
    if connection is not None:
        initial = {k: v for k, v in connection.config.items() if k not in cls.secret_fields}
    shown = shown_config_fields(cls)
    if data is not None:
        data = _with_unshown_values(cls, data, shown=shown, initial=initial)
    form = cls.config_form(data=data, initial=initial, prefix=CONFIG_PREFIX)
    stored = set(connection.secrets) if connection is not None else set()
    retype: list[str] = []
    for name in cls.secret_fields:
        field = form.fields.get(name)
        if field is None:
            continue
        if isinstance(field.widget, forms.Textarea):
            field.widget = SecretTextarea(attrs={
                **field.widget.attrs, "autocomplete": "off", "spellcheck": "false", "data-secret": "",
            })
        else:
            field.widget = forms.PasswordInput(render_value=False, attrs={
                **field.widget.attrs, "autocomplete": "new-password", "data-secret": "",
            })
        if name in stored:
            field.required = False
            field.help_text = SECRET_SAVED_HELP
        if secrets_typed and data is not None and data.get(f"{CONFIG_PREFIX}-{name}"):
            field.help_text = SECRET_RETYPE_HELP if name not in stored else SECRET_RETYPE_SAVED_HELP
            retype.append(f"“{str(field.label or name).split(' (')[0]}”")
    form.secrets_to_retype = retype
    sections = getattr(cls.config_form, "sections", ())
    form.shown_sections = [
        ShownSection(legend=section.legend, help=section.help, fields=[form[name] for name in section.fields])
        for section in sections
    ] or [ShownSection(legend="", help="", fields=list(form))]
    form.unshown_errors = [
        f"{form.fields[name].label or name}: {message}"
        for name in form.fields if name not in shown and form.is_bound
        for message in form.errors.get(name, [])
    ]
    return form


def _with_unshown_values(cls: type[Connector], data: Any, *, shown: list[str], initial: dict[str, Any]) -> Any:
    """``data`` with the fields the page does not show set to their stored
    (or default) values, so the form shown again judges what will be saved."""
    unshown = [name for name in cls.config_form.base_fields if name not in shown]
    if not unshown:
        return data
    data = data.copy()
    for name in unshown:
        field = cls.config_form.base_fields[name]
        value = initial.get(name, field.initial)
        data[f"{CONFIG_PREFIX}-{name}"] = "" if value is None else field.prepare_value(value)
    return data


def connector_form_values(cls: type[Connector], data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the admin typed into the connector's fields of a page, as
    (config, secrets) for ``connection_create`` / ``connection_update``: the
    service validates them with the connector's form, bound once, over the
    stored settings (so this page does not bind it again to save). Fields
    the page does not show are left out, so they keep their stored values."""
    config, secrets = {}, {}
    for name in shown_config_fields(cls):
        field = cls.config_form.base_fields[name]
        value = field.widget.value_from_datadict(data, {}, f"{CONFIG_PREFIX}-{name}")
        (secrets if name in cls.secret_fields else config)[name] = "" if value is None else value
    return config, secrets


def add_service_error(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on ``form``: per field where the
    service named one of its fields, above the form otherwise."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                if target is None and field != NON_FIELD_ERRORS:
                    message = f"{field.replace('_', ' ').capitalize()}: {message}"
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def add_save_error(form: forms.Form, config_form: forms.Form, exc: ValidationError) -> None:
    """Show a refused save: the connector's fields show their own errors
    (its form, shown again, finds what the service found in them);
    anything else the service refused is shown on ``form``."""
    if not config_form.errors:
        add_service_error(form, exc)


class ConnectionNameForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=200,
        help_text="How this connection is shown in hrsync, such as “ActionHRM – Australia”.",
    )

    def __init__(self, *args: Any, exclude_pk: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exclude_pk = exclude_pk

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = Connection.objects.filter(name=name).exclude(pk=self.exclude_pk)
        if taken.exists():
            raise ValidationError("Another connection already has this name.")
        return name


def _hours(value: Any) -> str:
    text = f"{Decimal(str(value)).quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class ConnectionSettingsForm(ConnectionNameForm):
    """The connection's own options (the connector's fields have their own form)."""

    sync_interval_hours = forms.DecimalField(
        label="Sync interval (hours)",
        min_value=Decimal(str(services.MIN_SYNC_INTERVAL_HOURS)),
        max_value=Decimal(services.MAX_SYNC_INTERVAL_HOURS),
        decimal_places=2,
        help_text="How often background sync runs, from 0.25 to 168 hours.",
    )
    safeguard_percent = forms.IntegerField(
        label="Safeguard: largest share deactivated (%)",
        min_value=0,
        max_value=100,
        help_text=Connection._meta.get_field("safeguard_percent").help_text,
    )
    safeguard_min = forms.IntegerField(
        label="Safeguard: always allow up to",
        min_value=0,
        help_text="Deactivations at or below this count never block a sync, whatever the share.",
    )

    @classmethod
    def initial_for(cls, connection: Connection) -> dict[str, Any]:
        return {
            "name": connection.name,
            "sync_interval_hours": _hours(connection.sync_interval.total_seconds() / 3600),
            "safeguard_percent": connection.safeguard_percent,
            "safeguard_min": connection.safeguard_min,
        }

    def options(self) -> dict[str, Any]:
        """The typed options for ``connection_update``."""
        data = self.cleaned_data
        return {
            "sync_interval": dt.timedelta(hours=float(data["sync_interval_hours"])),
            "safeguard_percent": data["safeguard_percent"],
            "safeguard_min": data["safeguard_min"],
        }


class StatusMapRowForm(forms.Form):
    """One vendor status → person status. The extra row adds a new status."""

    vendor_status = forms.CharField(
        label="Status in the HR system", max_length=services.MAX_VENDOR_STATUS_LENGTH, required=False
    )
    person_status = forms.ChoiceField(
        label="Person status",
        required=False,
        choices=[("", "— not mapped —"), *Person.Status.choices],
    )
    #: Rows for statuses already in the map must keep a person status: the
    #: map has no "unmapped" value to go back to.
    existing = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.has_error("vendor_status"):
            return cleaned
        vendor, person = cleaned.get("vendor_status", "").strip(), cleaned.get("person_status")
        if vendor or person:
            try:
                vendor = services.vendor_status_clean(status=vendor)
            except ValidationError as exc:
                self.add_error("vendor_status", exc)
                return cleaned
        cleaned["vendor_status"] = vendor
        if vendor and not person and cleaned.get("existing"):
            self.add_error("person_status", "Choose the person status for this HR status.")
        return cleaned


class BaseStatusMapFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            vendor = form.cleaned_data.get("vendor_status")
            if vendor and vendor in seen:
                form.add_error("vendor_status", f"“{vendor}” is listed twice.")
            seen.add(vendor)

    def status_map(self) -> dict[str, str]:
        """The rows that map a status, for ``connection_update`` (which merges them)."""
        return {
            form.cleaned_data["vendor_status"]: form.cleaned_data["person_status"]
            for form in self.forms
            if form.cleaned_data.get("vendor_status") and form.cleaned_data.get("person_status")
        }


StatusMapFormSet = forms.formset_factory(StatusMapRowForm, formset=BaseStatusMapFormSet, extra=1)
STATUS_MAP_PREFIX = "status"


def status_map_formset(connection: Connection, data: Any = None) -> BaseStatusMapFormSet:
    defaults = connector_class(connection.kind).default_status_map
    rows = [
        {"vendor_status": vendor, "person_status": connection.status_map.get(vendor, ""),
         "existing": vendor in connection.status_map}
        # The connector's own order first, then the admin's additions by name:
        # PostgreSQL's jsonb does not keep the order keys were saved in.
        for vendor in [*defaults, *sorted(k for k in connection.status_map if k not in defaults)]
    ]
    return StatusMapFormSet(data=data, initial=rows, prefix=STATUS_MAP_PREFIX)


class OptionToggleForm(forms.Form):
    option = forms.ChoiceField(choices=[("background_sync", "Background sync"),
                                        ("credential_notifications", "Credential notifications"),
                                        ("enabled", "Enabled")])
    value = forms.TypedChoiceField(choices=[("true", "On"), ("false", "Off")], coerce={"true": True, "false": False}.get)


#: The sync menu's actions: action → (label, scope, dry run).
SYNC_ACTIONS: dict[str, tuple[str, str, bool]] = {
    "all": ("Sync All Data", SyncRun.Scope.ALL, False),
    "locations": ("Sync Locations", SyncRun.Scope.LOCATIONS, False),
    "employees_dry_run": ("Sync Employees (Dry Run)", SyncRun.Scope.EMPLOYEES, True),
    "employees": ("Sync Employees", SyncRun.Scope.EMPLOYEES, False),
}


class SyncActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(key, label) for key, (label, _s, _d) in SYNC_ACTIONS.items()])

    @property
    def scope_and_dry_run(self) -> tuple[str, bool]:
        _label, scope, dry_run = SYNC_ACTIONS[self.cleaned_data["action"]]
        return scope, dry_run
