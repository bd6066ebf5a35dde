"""Forms of the connection pages.

They validate what an admin typed and turn it into the typed arguments of
``connection_create`` / ``connection_update``. The connector's own fields
are validated once, by the service, with the connector's form; the
services own every rule about what a connection may hold.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from connections import services
from connections.models import Connection, SyncRun
from connectors import outbound
from connectors.base import Connector, ConnectorError, FormSection
from connectors.registry import connector_class, enabled_kinds
from hrsync.people.labels import field_label
from hrsync.people.models import Person

logger = logging.getLogger(__name__)

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
    connector: Connector | None = None,
) -> forms.Form:
    """The connector's ``config_form``, prefixed, with every secret field as an
    empty password input (an empty textarea when the connector's widget is a
    Textarea: a private key has lines). ``form.shown_sections`` groups the
    fields the page shows; ``form.unshown_errors`` are the errors of the
    others (their stored values, filled in under the posted ones).

    Secrets are never rendered back: on the settings page a stored secret makes
    its field optional, and a blank value keeps it (the service does that).
    ``secrets_typed``: the page is shown again after a post, so a secret the
    admin typed is asked for again. ``connector``: the connection's, when the
    page has built it already (``page_connector``).
    """
    initial = {}
    if connection is not None:
        initial = {k: v for k, v in connection.config.items() if k not in cls.secret_fields}
    shown = shown_config_fields(cls)
    if data is not None:
        data = _with_unshown_values(cls, data, shown=shown, initial=initial)
    form = cls.config_form(data=data, initial=initial, prefix=CONFIG_PREFIX)
    if connection is not None and connection.pk is not None and hasattr(form, "source_offer"):
        # A form may offer what the source holds (a list of its attribute
        # names); its hook handles a source that cannot be read.
        form.source_offer(connector=connector or services.connection_connector(connection=connection))
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


def connector_form_values(
    cls: type[Connector], data: Any, files: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the admin typed into the connector's fields of a page, as
    (config, secrets) for ``connection_create`` / ``connection_update``: the
    service validates them with the connector's form, bound once, over the
    stored settings (so this page does not bind it again to save). Fields
    the page does not show are left out, so they keep their stored values.
    An uploaded file (``files``) is passed on as the value of its field."""
    config, secrets = {}, {}
    for name in shown_config_fields(cls):
        field = cls.config_form.base_fields[name]
        value = field.widget.value_from_datadict(data, files or {}, f"{CONFIG_PREFIX}-{name}")
        (secrets if name in cls.secret_fields else config)[name] = "" if value is None else value
    return config, secrets


def add_service_error(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on ``form``: per field where the
    service named one of its fields, above the form otherwise."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            target = name if name in form.fields else None
            for message in errors:
                if target is None and name != NON_FIELD_ERRORS:
                    message = f"{name.replace('_', ' ').capitalize()}: {message}"
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


# -- the field map ------------------------------------------------------------------

#: How ``Connector.field_map_fields`` says that any custom field may be mapped.
CUSTOM_FIELDS = "custom.<key>"
#: The person-field choice "Custom field…": the row's key box names which.
CUSTOM_CHOICE = "custom"
FIELD_MAP_PREFIX = "field_map"
#: The one list of the source's attribute names that every attribute box offers.
FIELD_MAP_DATALIST_ID = "field_map-attributes"


class _AttributesReadOnce:
    """A connector whose ``attribute_labels()`` asks the vendor at most once:
    the connector's own form and the field map both offer the attribute
    names, and a page waits on the vendor once (a failure is remembered
    too). Everything else is the connector's; a connector without the hook
    still lacks it."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self._labels: dict[str, str] | None = None
        self._error: ConnectorError | None = None

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._connector, name)
        return self._attribute_labels if name == "attribute_labels" else value

    def __repr__(self) -> str:
        return repr(self._connector)

    def _attribute_labels(self) -> dict[str, str]:
        if self._error is not None:
            raise self._error
        if self._labels is None:
            try:
                self._labels = dict(self._connector.attribute_labels())
            except ConnectorError as exc:
                self._error = exc
                raise
        return dict(self._labels)


def page_connector(connection: Connection) -> Connector:
    """The connection's connector for the forms of one page
    (``connector_config_form``, ``source_offer_read``)."""
    return _AttributesReadOnce(services.connection_connector(connection=connection))  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class SourceOffer:
    """What a connection's source tells its Settings page: its attribute
    names (key → label) for the field map's boxes, the names it gives
    custom fields, and, when it could not list its attributes, why."""

    attributes: dict[str, str] = field(default_factory=dict)
    custom_labels: dict[str, str] = field(default_factory=dict)
    problem: str = ""


def source_offer_read(*, connector: Connector) -> SourceOffer:
    """Ask ``connector`` for its attribute names (``attribute_labels()``,
    where it has the hook) within the page's time allowance. Never raises:
    the Settings page opens whatever the vendor does, with plain boxes."""
    attributes: dict[str, str] = {}
    problem = ""
    if hasattr(connector, "attribute_labels"):
        try:
            with outbound.deadline(
                seconds=settings.HRSYNC_WEB_CHECK_SECONDS, then="Type the attribute's name instead."
            ):
                attributes = {str(key): str(label) for key, label in connector.attribute_labels().items()}
        except ConnectorError as exc:
            problem = exc.message
        except Exception:  # noqa: BLE001 - any connector's failure; the list is a nicety
            logger.warning("Could not list the attributes of %r", connector, exc_info=True)
            problem = "the HR system's answer could not be read"
    try:
        # Read after the attributes: a source may name custom fields by their attribute's label.
        custom_labels = dict(connector.custom_field_labels())
    except Exception:  # noqa: BLE001 - as above: the keys still read as words
        logger.warning("Could not read the custom field names of %r", connector, exc_info=True)
        custom_labels = {}
    return SourceOffer(attributes=attributes, custom_labels=custom_labels, problem=problem)


def _field_choices(cls: type[Connector]) -> list[tuple[str, str]]:
    """The connector's mappable person fields by label; a label two fields
    share (one field's other name) says which key it is."""
    keys = [key for key in cls.field_map_fields if key != CUSTOM_FIELDS]
    labels = {key: field_label(key) for key in keys}
    shared = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    choices = sorted(
        ((key, f"{label} ({key})" if label in shared else label) for key, label in labels.items()),
        key=lambda choice: (choice[1].casefold(), choice[0]),
    )
    if CUSTOM_FIELDS in cls.field_map_fields:
        choices.append((CUSTOM_CHOICE, "Custom field…"))
    return [("", "— choose a field —"), *choices]


class FieldMapRowForm(forms.Form):
    """One person field → the HR system's attribute that fills it. A saved
    entry's row posts its field as a hidden value, and a blank attribute
    removes the entry; the extra row chooses a field (or "Custom field…"
    and its key) to add. Rows are checked with the service's own rule
    (``field_map_entry_clean``), so the page and ``--set field_map.<field>``
    accept the same names."""

    person_field = forms.CharField(required=False, widget=forms.HiddenInput)
    new_field = forms.ChoiceField(label="Person field", required=False, error_messages={
        "invalid_choice": "Choose one of the person fields listed.",
    })
    custom_key = forms.CharField(
        label="Custom field key",
        required=False,
        max_length=services.MAX_VENDOR_ATTRIBUTE_LENGTH,
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    attribute = forms.CharField(
        label="Attribute in the HR system",
        required=False,
        # The service's rule words a too-long name; the box only stops runaway pastes.
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off", "maxlength": "500"}),
    )

    def __init__(
        self,
        *args: Any,
        connector: type[Connector],
        saved: dict[str, str],
        offer: SourceOffer,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.connector = connector
        self.saved = saved
        self.fields["new_field"].choices = _field_choices(connector)
        if CUSTOM_FIELDS not in connector.field_map_fields:
            del self.fields["custom_key"]
        if offer.attributes:
            self.fields["attribute"].widget.attrs["list"] = FIELD_MAP_DATALIST_ID
        self.offer = offer
        key = self.initial.get("person_field", "")
        #: The saved entry's field as the page names it ("" on the extra row).
        self.field_text = field_label(key, custom_labels=offer.custom_labels) if key else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        attribute = cleaned.get("attribute", "")
        key = cleaned.get("person_field", "").strip()
        if key:
            if attribute == str(self.saved.get(key, "")).strip():
                cleaned["entry"] = None  # unchanged: a name saved before today's rules stays as it was
                return cleaned
            if not attribute:
                cleaned["entry"] = (key, "")  # the service removes it
                return cleaned
        else:
            key = self._new_key(cleaned)
            if key is None or (not key and not attribute):
                cleaned["entry"] = None
                return cleaned
            if not key:
                self.add_error("new_field", "Choose the person field this attribute fills.")
                return cleaned
            if not attribute:
                self.add_error("attribute", f"Enter the attribute that fills “{self.label_for(key)}”.")
                return cleaned
        try:
            cleaned["entry"] = services.field_map_entry_clean(
                connector=self.connector, field=key, attribute=attribute,
            )
        except ValidationError as exc:
            self.add_error("attribute", exc)
        return cleaned

    def label_for(self, key: str) -> str:
        """``key`` as this page names it."""
        return field_label(key, custom_labels=self.offer.custom_labels)

    def _new_key(self, cleaned: dict[str, Any]) -> str | None:
        """The field the extra row adds, "" when none is chosen; None (after
        adding the error) when the choice and the key box disagree."""
        choice, custom_key = cleaned.get("new_field", ""), cleaned.get("custom_key", "").strip()
        # Typed with its prefix, as --set field_map.custom.<key> spells it: the same field.
        custom_key = custom_key.removeprefix("custom.").strip()
        if choice and choice != CUSTOM_CHOICE:
            if custom_key:
                self.add_error(
                    "custom_key", "Clear the custom field key, or choose “Custom field…” as the person field."
                )
                return None
            return choice
        if custom_key:
            return f"custom.{custom_key}"
        if choice == CUSTOM_CHOICE:
            self.add_error("custom_key", "Enter the key of the custom field, such as marital_status.")
            return None
        return ""


class BaseFieldMapFormSet(forms.BaseFormSet):
    #: The source's attribute names, its custom field names, or why it could not list them.
    offer: SourceOffer
    #: The connector's own words on mapping its fields (``Connector.field_map_help``).
    help: str = ""
    #: Whether the extra row may name a custom field (``custom.<key>``).
    allows_custom: bool = False
    datalist_id = FIELD_MAP_DATALIST_ID

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            entry = form.cleaned_data.get("entry")
            saved_row = bool(form.cleaned_data.get("person_field", "").strip())
            key = entry[0] if entry else form.cleaned_data.get("person_field", "").strip()
            if not key:
                continue
            if key in seen:
                target = "attribute" if saved_row else "custom_key" if key.startswith("custom.") else "new_field"
                form.add_error(
                    target, f"“{form.label_for(key)}” is mapped already: change its attribute in its row above."
                )
            seen.add(key)

    def field_map(self) -> dict[str, str]:
        """The entries added or changed (a blank attribute: removed), for
        ``connection_update_tested`` (which merges them)."""
        return dict(form.cleaned_data["entry"] for form in self.forms if form.cleaned_data.get("entry"))


FieldMapFormSet = forms.formset_factory(FieldMapRowForm, formset=BaseFieldMapFormSet, extra=1)


def field_map_formset(
    connection: Connection, data: Any = None, *, offered: SourceOffer | None = None
) -> BaseFieldMapFormSet | None:
    """The Settings tab's field map: a row per saved entry, standard fields
    by label first, then custom ones, and one row to add. None when the
    connector reads no field map. ``offered``: what the source offers
    (``source_offer_read``); without it the boxes are plain."""
    cls = connector_class(connection.kind)
    if not cls.field_map_fields:
        return None
    offer = offered or SourceOffer()
    saved = {str(key): str(value) for key, value in connection.field_map.items()}
    # PostgreSQL's jsonb does not keep the order keys were saved in.
    keys = sorted(saved, key=lambda key: (
        key.startswith("custom."), field_label(key, custom_labels=offer.custom_labels).casefold(), key,
    ))
    formset = FieldMapFormSet(
        data=data,
        initial=[{"person_field": key, "attribute": saved[key]} for key in keys],
        prefix=FIELD_MAP_PREFIX,
        form_kwargs={"connector": cls, "saved": saved, "offer": offer},
    )
    formset.offer, formset.help = offer, cls.field_map_help
    formset.allows_custom = CUSTOM_FIELDS in cls.field_map_fields
    return formset


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
    "absences": ("Sync Absences", SyncRun.Scope.ABSENCES, False),
    "training": ("Sync Training", SyncRun.Scope.TRAINING, False),
}


class SyncActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(key, label) for key, (label, _s, _d) in SYNC_ACTIONS.items()])

    @property
    def scope_and_dry_run(self) -> tuple[str, bool]:
        _label, scope, dry_run = SYNC_ACTIONS[self.cleaned_data["action"]]
        return scope, dry_run
