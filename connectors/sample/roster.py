"""The bundled demo roster: a made-up workforce that is the same on every machine.

The roster is built from a seed, so a given ``(size, seed)`` always gives
the same people, ids and dates. It is also imperfect in the ways real HR data
is, so a first sync shows every kind of row in the report:

- rehires entered twice, and people keyed in twice: a second record, with its
  own remote id, that has the same email as another record. The planner
  reports both as conflicts.
- leavers (``Terminated`` and ``Inactive``, each with a termination date),
  people ``On Leave``, new starters ``Onboarding`` and ``Candidate`` records.
- emails with odd case and stray spaces (``"  John.Smith@Acme.example.com "``).
  The planner trims and lowercases emails before matching.

Nothing here does I/O except reading ``names.json`` next to this file.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from connectors.base import RemoteEmployee, RemoteLocation

DEFAULT_SIZE = 300
MIN_SIZE = 10
MAX_SIZE = 5000
DEFAULT_SEED = 1729
EMAIL_DOMAIN = "acme.example.com"
#: The day the roster describes. It is a fixed date and not today: with today,
#: the same seed would give different dates from one day to the next.
AS_OF = dt.date(2025, 6, 30)

# Statuses spelled the way ActionHRM spells them.
CANDIDATE = "Candidate"
ONBOARDING = "Onboarding"
ACTIVE = "Active"
ON_LEAVE = "On Leave"
INACTIVE = "Inactive"
TERMINATED = "Terminated"
STATUSES = (CANDIDATE, ONBOARDING, ACTIVE, ON_LEAVE, INACTIVE, TERMINATED)


@dataclass(frozen=True, slots=True)
class Site:
    remote_id: str
    name: str
    weight: int
    #: Phone numbers come from the ranges Ofcom (UK) and ACMA (AU) set aside
    #: for fiction, so the demo data never contains anyone's real number.
    landline: str  # format with one int: the local digits
    landline_digits: int
    australian: bool


LOCATIONS: tuple[Site, ...] = (
    Site("LOC-LEEDS", "Leeds Depot", 24, "0113 496 0{:03d}", 1000, False),
    Site("LOC-BRISTOL", "Bristol Depot", 18, "0117 496 0{:03d}", 1000, False),
    Site("LOC-BIRMINGHAM", "Birmingham Depot", 20, "0121 496 0{:03d}", 1000, False),
    Site("LOC-GLASGOW", "Glasgow Depot", 12, "0141 496 0{:03d}", 1000, False),
    Site("LOC-BRISBANE", "Brisbane Depot", 14, "(07) 5550 {:04d}", 10000, True),
    Site("LOC-MELBOURNE", "Melbourne Depot", 12, "(03) 5550 {:04d}", 10000, True),
)
_HEAD_OFFICE = LOCATIONS[0]
_AU_MOBILES = (
    "0491 570 006",
    "0491 570 156",
    "0491 570 157",
    "0491 570 158",
    "0491 570 159",
    "0491 570 110",
    "0491 570 313",
    "0491 570 737",
)

_STAFF_TITLES: tuple[tuple[str, int], ...] = (
    ("Warehouse Operative", 30),
    ("Picker Packer", 14),
    ("Forklift Driver", 10),
    ("HGV Driver", 10),
    ("Van Driver", 8),
    ("Goods-In Clerk", 4),
    ("Stock Controller", 4),
    ("Customer Service Advisor", 4),
    ("Transport Planner", 3),
    ("Yard Marshal", 3),
    ("Fleet Technician", 3),
    ("Administrator", 3),
    ("Cleaner", 2),
    ("Health & Safety Advisor", 1),
    ("HR Advisor", 1),
)
_LEADER_TITLES = ("Team Leader", "Shift Supervisor", "Warehouse Supervisor")
_HI_VIS_TITLES = frozenset(
    {
        "Warehouse Operative",
        "Picker Packer",
        "Forklift Driver",
        "HGV Driver",
        "Van Driver",
        "Yard Marshal",
    }
)
_SHIRT_SIZES = ("S", "M", "M", "L", "L", "XL", "XXL")
_LEAVE_REASONS = ("Parental leave", "Long-term sickness", "Sabbatical", "Career break")
_RECRUITMENT_STAGES = ("Interview booked", "Offer made", "References requested")

# Share of the roster in each non-active status (at least one of each).
_STATUS_SHARES = (
    (TERMINATED, 0.06),
    (INACTIVE, 0.02),
    (ON_LEAVE, 0.03),
    (ONBOARDING, 0.02),
    (CANDIDATE, 0.02),
)
#: One duplicate record per this many people (at least one).
_PEOPLE_PER_DUPLICATE = 60
#: One email written with odd case or spaces per this many people (at least one),
#: on top of the duplicates, which all have one.
_PEOPLE_PER_MESSY_EMAIL = 100
#: A depot gets its own manager from this many people; one team leader per
#: _TEAM_SIZE people after that.
_DEPOT_MANAGER_FROM = 4
_TEAM_SIZE = 12


class Roster(NamedTuple):
    locations: list[RemoteLocation]
    employees: list[RemoteEmployee]


def build_roster(*, size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> Roster:
    """The roster for ``(size, seed)``: ``size`` records in a fixed order.

    Every call builds new objects, so callers may change them freely.
    """
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}, not {size}")
    return _Builder(size=size, seed=seed).build()


def locations() -> list[RemoteLocation]:
    return [
        RemoteLocation(remote_id=site.remote_id, name=site.name, raw=_location_raw(site))
        for site in LOCATIONS
    ]


def _location_raw(site: Site) -> dict[str, Any]:
    return {
        "LocationId": site.remote_id,
        "LocationName": site.name,
        "Country": "AU" if site.australian else "GB",
    }


# -- internals ------------------------------------------------------------


class _Rng:
    """Every draw goes through ``random.Random.random()``.

    Python only promises that ``random()`` gives the same sequence for a seed
    in every version; ``choice``, ``randint`` and ``shuffle`` may change. Using
    ``random()`` alone keeps the roster the same after a Python upgrade.
    """

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed).random

    def below(self, n: int) -> int:
        return min(int(self._random() * n), n - 1)

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)

    def chance(self, p: float) -> bool:
        return self._random() < p

    def pick(self, items):
        return items[self.below(len(items))]

    def weighted(self, items_and_weights):
        total = sum(weight for _item, weight in items_and_weights)
        point = self._random() * total
        for item, weight in items_and_weights:
            point -= weight
            if point < 0:
                return item
        return items_and_weights[-1][0]

    def shuffle(self, items: list) -> None:
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]

    def date(self, start: dt.date, end: dt.date) -> dt.date:
        return start + dt.timedelta(days=self.below((end - start).days + 1))


@dataclass(eq=False)
class _Draft:
    first_name: str
    last_name: str
    gender: str
    email: str
    date_of_birth: dt.date
    site: Site = _HEAD_OFFICE
    role: str = "staff"  # director · depot_manager · team_leader · staff
    job_title: str = ""
    status: str = ACTIVE
    hire_date: dt.date | None = None
    termination_date: dt.date | None = None
    manager: _Draft | None = None
    mobile_phone: str = ""
    work_phone: str = ""
    home_phone: str = ""
    custom: dict[str, Any] = field(default_factory=dict)


@cache
def _names() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    text = resources.files(__package__).joinpath("names.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return tuple(data["female"]), tuple(data["male"]), tuple(data["last"])


def _email_part(name: str) -> str:
    # "Siân" -> "sian", "O'Brien" -> "obrien", "Te Whare" -> "tewhare".
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum() or ch == "-")


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def _messy(email: str, kind: int) -> str:
    """The same address as someone might key it in."""
    local, _at, domain = email.partition("@")
    if kind % 3 == 0:
        local = ".".join(part.capitalize() for part in local.split("."))
        return f"  {local}@{domain.capitalize()} "
    if kind % 3 == 1:
        return email.upper()
    return f"{email} "


class _Builder:
    def __init__(self, *, size: int, seed: int) -> None:
        self.size = size
        self.rng = _Rng(seed)
        self.taken_emails: set[str] = set()

    def build(self) -> Roster:
        rng = self.rng
        duplicates = max(1, self.size // _PEOPLE_PER_DUPLICATE)
        people = [self._person() for _ in range(self.size - duplicates)]
        for person in people:
            person.site = rng.weighted([(site, site.weight) for site in LOCATIONS])
        people[0].site = _HEAD_OFFICE  # the director, see _hierarchy()
        for person in people:
            self._phones(person)
        staff = self._hierarchy(people)
        for person in people:
            self._employment(person)

        # Duplicates copy staff who stay Active, so draw them first.
        pool = list(staff)
        rng.shuffle(pool)
        originals, pool = pool[:duplicates], pool[duplicates:]
        for status, share in _STATUS_SHARES:
            count = max(1, round(self.size * share))
            chosen, pool = pool[:count], pool[count:]
            for person in chosen:
                self._set_status(person, status)
        copies = [self._duplicate(original, n) for n, original in enumerate(originals)]
        for n, person in enumerate(pool[: max(1, self.size // _PEOPLE_PER_MESSY_EMAIL)]):
            person.email = _messy(person.email, n + 1)

        records = people + copies
        # Managers, leavers and duplicates end up anywhere in the list.
        rng.shuffle(records)
        return Roster(locations=locations(), employees=self._finish(records))

    # -- people ------------------------------------------------------------

    def _person(self) -> _Draft:
        rng = self.rng
        female, male, last_names = _names()
        gender = rng.weighted([("Female", 48), ("Male", 48), ("Non-binary", 2), ("", 2)])
        if gender == "Female":
            first = rng.pick(female)
        elif gender == "Male":
            first = rng.pick(male)
        else:
            first = rng.pick(rng.pick((female, male)))
        last = rng.pick(last_names)
        return _Draft(
            first_name=first,
            last_name=last,
            gender=gender,
            email=self._email(first, last),
            date_of_birth=rng.date(_add_years(AS_OF, -64), _add_years(AS_OF, -19)),
        )

    def _email(self, first: str, last: str) -> str:
        base = f"{_email_part(first)}.{_email_part(last)}"
        local, n = base, 1
        while local in self.taken_emails:
            n += 1
            local = f"{base}{n}"
        self.taken_emails.add(local)
        return f"{local}@{EMAIL_DOMAIN}"

    def _phones(self, person: _Draft) -> None:
        rng, site = self.rng, person.site
        if rng.chance(0.95):
            if site.australian:
                person.mobile_phone = rng.pick(_AU_MOBILES)
            else:
                person.mobile_phone = f"07700 900{rng.below(1000):03d}"
        person.work_phone = site.landline.format(rng.below(site.landline_digits))
        if rng.chance(0.35):
            person.home_phone = site.landline.format(rng.below(site.landline_digits))

    def _hierarchy(self, people: list[_Draft]) -> list[_Draft]:
        """Give everyone a manager and a job title; return the plain staff.

        The director manages depot managers, who manage team leaders, who
        manage staff: every manager sits one level up, so there are no cycles.
        """
        rng = self.rng
        director, rest = people[0], people[1:]
        director.role, director.job_title = "director", "Operations Director"
        staff: list[_Draft] = []
        for site in LOCATIONS:
            members = [person for person in rest if person.site is site]
            if len(members) < _DEPOT_MANAGER_FROM:
                for person in members:
                    person.manager = director
                staff.extend(members)
                continue
            depot_manager = members[0]
            depot_manager.role, depot_manager.job_title = "depot_manager", "Depot Manager"
            depot_manager.manager = director
            leaders = members[1 : 1 + (len(members) - 1) // _TEAM_SIZE]
            for leader in leaders:
                leader.role, leader.job_title = "team_leader", rng.pick(_LEADER_TITLES)
                leader.manager = depot_manager
            for person in members[1 + len(leaders) :]:
                person.manager = rng.pick(leaders) if leaders else depot_manager
                staff.append(person)
        for person in staff:
            person.job_title = rng.weighted(_STAFF_TITLES)
            if person.job_title in _HI_VIS_TITLES and rng.chance(0.25):
                person.custom["shirt_size"] = rng.pick(_SHIRT_SIZES)
            if person.job_title == "HGV Driver" and rng.chance(0.5):
                person.custom["licence_category"] = "C+E"
        return staff

    def _employment(self, person: _Draft) -> None:
        rng = self.rng
        earliest = dt.date(2004, 1, 1) if person.role == "staff" else dt.date(1998, 1, 1)
        start = max(earliest, _add_years(person.date_of_birth, 18))
        person.hire_date = rng.date(start, AS_OF - dt.timedelta(days=30))

    def _set_status(self, person: _Draft, status: str) -> None:
        rng = self.rng
        person.status = status
        if status in (TERMINATED, INACTIVE):
            start = max(dt.date(2004, 1, 1), _add_years(person.date_of_birth, 18))
            person.hire_date = rng.date(start, AS_OF - dt.timedelta(days=180))
            person.termination_date = rng.date(
                person.hire_date + dt.timedelta(days=60), AS_OF - dt.timedelta(days=1)
            )
        elif status == ON_LEAVE:
            person.custom["leave_reason"] = rng.pick(_LEAVE_REASONS)
        elif status == ONBOARDING:
            person.hire_date = AS_OF + dt.timedelta(days=rng.between(1, 42))
            person.home_phone = ""
        elif status == CANDIDATE:
            # No start date, desk phone or employee reference until an offer is accepted.
            person.hire_date = None
            person.work_phone = person.home_phone = ""
            person.custom = {"recruitment_stage": rng.pick(_RECRUITMENT_STAGES)}

    def _duplicate(self, original: _Draft, n: int) -> _Draft:
        """A second record with the original's email.

        Even ``n``: a rehire whose earlier spell is still on file, as a leaver.
        Odd ``n``: the same person keyed in twice, with the email typed
        differently.
        """
        rng = self.rng
        copy = _Draft(
            first_name=original.first_name,
            last_name=original.last_name,
            gender=original.gender,
            email=original.email,
            date_of_birth=original.date_of_birth,
            site=original.site,
            role="staff",
            job_title=original.job_title,
            manager=original.manager,
            mobile_phone=original.mobile_phone,
            work_phone=original.work_phone,
        )
        assert original.hire_date is not None
        earliest_start = _add_years(original.date_of_birth, 16)
        if n % 2 == 0 and original.hire_date - dt.timedelta(days=400) > earliest_start:
            copy.status = TERMINATED
            copy.job_title = rng.weighted(_STAFF_TITLES)
            spell_end = original.hire_date - dt.timedelta(days=rng.between(30, 300))
            spell_start = max(earliest_start, spell_end - dt.timedelta(days=rng.between(90, 1500)))
            copy.hire_date, copy.termination_date = spell_start, spell_end
            copy.email = original.email.upper() if n % 4 == 2 else original.email
        else:
            copy.status = ACTIVE
            copy.hire_date = original.hire_date
            copy.email = _messy(original.email, 0)
        return copy

    # -- output ------------------------------------------------------------

    def _finish(self, records: list[_Draft]) -> list[RemoteEmployee]:
        remote_ids = {id(person): str(10001 + position) for position, person in enumerate(records)}
        employees = []
        reference = 0
        for position, person in enumerate(records):
            remote_id = remote_ids[id(person)]
            employee_reference = ""
            if person.status != CANDIDATE:
                reference += 1
                employee_reference = f"E{reference:05d}"
            manager_remote_id = remote_ids[id(person.manager)] if person.manager else ""
            raw = {
                "EmployeeId": remote_id,
                "EmployeeRef": employee_reference,
                "Forename": person.first_name,
                "Surname": person.last_name,
                "Email": person.email,
                "DateOfBirth": person.date_of_birth.isoformat(),
                "Gender": person.gender,
                "MobilePhone": person.mobile_phone,
                "WorkPhone": person.work_phone,
                "HomePhone": person.home_phone,
                "JobTitle": person.job_title,
                "LocationId": person.site.remote_id,
                "Location": person.site.name,
                "Status": person.status,
                "StartDate": person.hire_date.isoformat() if person.hire_date else "",
                "LeaveDate": (
                    person.termination_date.isoformat() if person.termination_date else ""
                ),
                "ManagerId": manager_remote_id,
                "CustomFields": dict(person.custom),
            }
            employees.append(
                RemoteEmployee(
                    remote_id=remote_id,
                    email=person.email,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    date_of_birth=person.date_of_birth,
                    gender=person.gender,
                    employee_reference=employee_reference,
                    mobile_phone=person.mobile_phone,
                    work_phone=person.work_phone,
                    home_phone=person.home_phone,
                    job_title=person.job_title,
                    location_id=person.site.remote_id,
                    status=person.status,
                    hire_date=person.hire_date,
                    termination_date=person.termination_date,
                    manager_remote_id=manager_remote_id,
                    custom=dict(person.custom),
                    raw=raw,
                    source_position=f"record {position + 1}",
                )
            )
        return employees
