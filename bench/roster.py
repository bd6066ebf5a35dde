"""Deterministic rosters for the benchmark, written as CSV files.

The same arguments always give byte-identical files, so two runs (or two
machines) sync exactly the same data. A roster is a list of rows; each
generation after the first is the previous one with 5 % of its people
changed, 1 % new people and 1 % leavers, the re-sync scenarios of the bench.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = (
    "Employee ID",
    "First Name",
    "Last Name",
    "Email",
    "Job Title",
    "Location",
    "Manager ID",
    "Status",
    "Start Date",
    "Date of Birth",
    "Mobile",
)

FIRST_NAMES = (
    "Aaliyah Abdul Ada Adam Aisha Alan Alice Amara Amelia Amir Ana Andrew Anita Ann Arjun Ava "
    "Ben Bethany Bilal Carlos Caroline Charlotte Chen Chloe Chris Daniel David Deepa Dmitri "
    "Eilidh Elena Eleanor Emeka Emily Emma Ewa Fatima Finn Freya George Grace Hannah Harry "
    "Hassan Ian Imran Isabel Isla Jack Jacob James Jamie Jan Jessica Joanna John Jonas Joseph "
    "Julia Kamal Karen Kasia Katie Kwame Laura Leah Liam Lily Lucy Luis Mahmoud Maria Mark "
    "Marta Mateo Matthew Maya Megan Mia Michael Mohammed Muhammad Nadia Naomi Nathan Niamh "
    "Nikhil Noah Olivia Omar Oscar Owen Paul Pedro Piotr Priya Rachel Rahul Rebecca Rhys Robert "
    "Rosa Ruby Ryan Sam Sarah Sean Sofia Sophie Sunita Tariq Thomas Tom Uche Victoria Wei "
    "William Yusuf Zainab Zoe"
).split()
LAST_NAMES = (
    "Adams Ahmed Ali Allen Anderson Baker Bailey Begum Bell Brown Campbell Carter Chapman Chen "
    "Clark Clarke Collins Cooper Cox Davies Davis Dawson Edwards Evans Fernandes Fisher Fraser "
    "Garcia Gill Graham Gray Green Griffiths Hall Harris Harrison Hill Hughes Hussain Jackson "
    "James Jenkins Johnson Jones Kaur Kelly Khan King Kowalski Kumar Lee Lewis Lopez Marshall "
    "Martin Mason Mitchell Moore Morgan Morris Murphy Murray Nowak Nguyen O'Brien Okafor "
    "Owen Palmer Parker Patel Phillips Price Reid Richards Richardson Roberts Robinson Rodriguez "
    "Rogers Ross Russell Scott Shah Shaw Simpson Singh Smith Stewart Taylor Thomas Thompson "
    "Turner Walker Walsh Ward Watson White Wilkinson Williams Wilson Wood Wright Young Zhang"
).split()
JOB_TITLES = (
    "Driver", "Senior Driver", "Warehouse Operative", "Forklift Operator", "Picker", "Packer",
    "Team Leader", "Shift Manager", "Depot Manager", "Transport Planner", "Customer Service Advisor",
    "Mechanic", "Cleaner", "Security Officer", "HR Advisor", "Payroll Officer", "Finance Assistant",
    "IT Support Analyst", "Operations Manager", "Regional Manager",
)
TOWNS = (
    "Aberdeen Basildon Bedford Belfast Birmingham Blackpool Bolton Bradford Brighton Bristol "
    "Cambridge Cardiff Carlisle Chelmsford Chester Coventry Crawley Derby Doncaster Dundee "
    "Durham Edinburgh Exeter Glasgow Gloucester Hull Inverness Ipswich Leeds Leicester Lincoln "
    "Liverpool London Luton Manchester Middlesbrough Milton-Keynes Newcastle Newport Northampton "
    "Norwich Nottingham Oxford Peterborough Plymouth Portsmouth Preston Reading Salford Sheffield "
    "Slough Southampton Stockport Stoke Sunderland Swansea Swindon Telford Warrington Wolverhampton "
    "Worcester York"
).split()
#: Statuses and how often they occur; all are in the CSV connector's default status map.
STATUSES = (("Active", 95), ("On Leave", 3), ("Onboarding", 2))
DEPOTS = 300
#: People per manager: everyone reports to someone with a smaller number.
SPAN = 8


def depot_names(count: int = DEPOTS) -> list[str]:
    names = []
    for index in range(count):
        town = TOWNS[index % len(TOWNS)]
        names.append(f"{town} {'Depot' if index < len(TOWNS) else 'Depot ' + str(index // len(TOWNS) + 1)}")
    return names


def _person(rng: random.Random, number: int, depots: list[str]) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    manager = "" if number <= SPAN else f"E{(number - 1) // SPAN:07d}"
    statuses, weights = zip(*STATUSES, strict=True)
    return {
        "Employee ID": f"E{number:07d}",
        "First Name": first,
        "Last Name": last,
        "Email": f"{first}.{last}.{number}@example.com".lower().replace("'", ""),
        "Job Title": rng.choice(JOB_TITLES),
        "Location": depots[number % len(depots)],
        "Manager ID": manager,
        "Status": rng.choices(statuses, weights)[0],
        "Start Date": f"{rng.randint(1995, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "Date of Birth": f"{rng.randint(1955, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "Mobile": f"07{rng.randint(100000000, 999999999)}",
    }


def roster_generate(people: int, *, seed: int = 2026) -> list[dict[str, str]]:
    """``people`` distinct people plus about 2 % of awkward rows.

    1 % repeat an existing employee id with another job title (the planner
    reports both rows as conflicts: it must not guess which is right); 1 %
    are bad: an invalid email, no employee id, or a status nobody mapped.
    """
    rng = random.Random(f"{seed}:{people}")
    depots = depot_names()
    rows = [_person(rng, number, depots) for number in range(1, people + 1)]
    awkward = max(1, people // 100)
    for index in range(awkward):
        original = rows[rng.randrange(len(rows))]
        copy = {**original, "Job Title": rng.choice(JOB_TITLES)}
        rows.insert(rng.randrange(len(rows)), copy)
    for index in range(awkward):
        bad = _person(rng, people + 1_000_000 + index, depots)
        problem = index % 3
        if problem == 0:
            bad["Email"] = bad["Email"].replace("@", " at ")
        elif problem == 1:
            bad["Employee ID"] = ""
        else:
            bad["Status"] = "Seconded"
        rows.insert(rng.randrange(len(rows)), bad)
    return rows


def roster_mutate(rows: list[dict[str, str]], *, generation: int, seed: int = 2026) -> list[dict[str, str]]:
    """The next generation: 5 % of people changed, 1 % new, 1 % leavers."""
    rng = random.Random(f"{seed}:{len(rows)}:{generation}")
    depots = depot_names()
    people = len(rows)
    result = [dict(row) for row in rows]
    leavers = set(rng.sample(range(people), people // 100))
    kept = [index for index in range(people) if index not in leavers]
    for index in rng.sample(kept, people * 5 // 100):
        row = result[index]
        change = rng.randrange(4)
        if change == 0:
            row["Job Title"] = rng.choice(JOB_TITLES)
        elif change == 1:
            row["Location"] = rng.choice(depots)
        elif change == 2:
            row["Last Name"] = rng.choice(LAST_NAMES)
        else:
            row["Mobile"] = f"07{rng.randint(100000000, 999999999)}"
    result = [row for index, row in enumerate(result) if index not in leavers]
    first_new = 2_000_000 * generation
    for number in range(first_new, first_new + people // 100):
        joiner = _person(rng, number, depots)
        joiner["Manager ID"] = rng.choice(result)["Employee ID"]
        result.append(joiner)
    return result


def roster_write(rows: list[dict[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path
