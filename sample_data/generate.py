"""Re-make the sample contact files (seeded): `python sample_data/generate.py [--start YYYY-MM-DD]`.

Writes, next to this script:

- contacts.csv            ~400 clean rows across every US time zone, some Canada, a few UK
- contacts_messy.csv      Windows-1252: one row per kind of trouble (see README.md)
- contacts_messy_utf16.txt  the same rows as Excel's "Unicode text" (UTF-16, tab-separated)
- contacts_messy.xlsx     the same rows as a workbook (one phone stored as an Excel number)
- dnc.csv                 a small do-not-call list overlapping contacts.csv by a few numbers

Every phone number is fictional: NANP 555-0100..555-0199 (reserved for fiction) in real area
codes, and Ofcom's drama ranges for the UK (020 7946 0xxx, 0113 496 0xxx, 0161 496 0xxx).
Ofcom's drama mobile range 07700 900xxx is not used: phonenumbers does not accept it as valid.
Appointment dates start the day after `--start` (default: today).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl

from campaigner.contacts.phones import normalise_number

HERE = Path(__file__).resolve().parent
SEED = 20_260_401
HEADERS = [
    "First Name",
    "Last Name",
    "Phone",
    "Email",
    "Appointment Date",
    "Appointment Time",
    "Clinic",
    "Customer ID",
    "Time Zone",
]

# Area codes by time zone, with how many contacts each zone gets (400 in all).
ZONES = {
    "America/New_York": (["212", "305", "404", "617", "215", "313"], 110),
    "America/Chicago": (["312", "214", "713", "612", "615"], 80),
    "America/Denver": (["303", "801", "505", "406"], 40),
    "America/Phoenix": (["602", "520"], 25),
    "America/Los_Angeles": (["415", "213", "206", "503", "702"], 80),
    "America/Anchorage": (["907"], 12),
    "Pacific/Honolulu": (["808"], 13),
    "Canada": (["416", "604", "403", "514"], 30),
}
UK_PREFIXES = ["+44 20 7946 0{}", "+44 113 496 0{}", "+44 161 496 0{}", "+44 (0)20 7946 0{}"]
UK_COUNT = 10
NANP_FORMATS = [
    ("({a}) {b}-{c}", 5),
    ("{a}-{b}-{c}", 4),
    ("{a}.{b}.{c}", 2),
    ("+1 {a} {b} {c}", 3),
    ("1-{a}-{b}-{c}", 2),
    ("{a}{b}{c}", 2),
    ("+1{a}{b}{c}", 1),
]
FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sofía", "Lucas", "Mia", "Ethan",
    "Amelia", "James", "Harper", "Benjamin", "Zoë", "Elijah", "Chloé", "Daniel", "Aaliyah",
    "Henry", "Mei", "Omar", "Priya", "José", "Renée", "Kai", "Leilani", "Nora", "Hiroshi", "Ana",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martínez", "Nguyen", "Kim", "Patel", "O'Brien", "Anderson", "Thomas", "Moore", "Jackson",
    "Lee", "Walker", "Hall", "Young", "Allen", "King", "Wright", "Lopez", "Hill", "Kealoha",
    "Tremblay", "Côté", "MacDonald",
]  # fmt: skip
CLINICS = [
    "Maple Street Dental",
    "Harbor View Family Dentistry",
    "Cedar Park Smiles",
    "Northside Dental Care",
    "Lakeshore Orthodontics",
    "Summit Pediatric Dental",
]
TIMES = [f"{hour:02d}:{minute:02d}" for hour in range(8, 17) for minute in (0, 30)]


def main() -> None:
    """Parse arguments and write every sample file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date.today())
    start = parser.parse_args().start
    rng = random.Random(SEED)
    placeholder = messy_rows(start, repeats=("", ""))
    reserved = {national(row[2]) for row in placeholder} | {national(number) for number in DNC_ONLY}
    contacts = contact_rows(rng, start, reserved)
    # The messy file repeats two numbers of contacts.csv, written differently.
    first, second = [digits(row[2]) for row in contacts if not row[2].startswith("+44")][:2]
    repeats = (f"+1 {first[:3]}.{first[3:6]}.{first[6:]}", f"{second[:3]} {second[3:]}")
    messy = messy_rows(start, repeats)
    write_csv(HERE / "contacts.csv", [HEADERS, *contacts], encoding="utf-8")
    write_csv(HERE / "contacts_messy.csv", messy_table(messy), encoding="cp1252")
    write_csv(
        HERE / "contacts_messy_utf16.txt", messy_table(messy), encoding="utf-16", delimiter="\t"
    )
    write_xlsx(HERE / "contacts_messy.xlsx", messy)
    write_csv(HERE / "dnc.csv", dnc_rows(contacts), encoding="utf-8")


def national(text: str) -> str:
    """The ten NANP digits campaigner reads in a cell ("" for anything else)."""
    e164 = normalise_number(text, "US").e164 or ""
    return e164[2:] if e164.startswith("+1") else ""


def digits(text: str) -> str:
    """The digits of a NANP number without the leading 1."""
    only = "".join(char for char in text if char.isdigit())
    return only[1:] if len(only) == 11 and only.startswith("1") else only


def contact_rows(rng: random.Random, start: date, reserved: set[str]) -> list[list[str]]:
    """The clean sample: unique numbers, every US zone, Canada, a few UK."""
    rows: list[list[str]] = []
    used = set(reserved)
    for zone, (areas, count) in ZONES.items():
        for _ in range(count):
            while True:
                ten = f"{rng.choice(areas)}555{rng.randint(100, 199):04d}"
                if ten not in used:
                    break
            used.add(ten)
            pattern = rng.choices([f for f, _ in NANP_FORMATS], [w for _, w in NANP_FORMATS])[0]
            phone = pattern.format(a=ten[:3], b=ten[3:6], c=ten[6:])
            explicit = zone if zone != "Canada" and rng.random() < 0.04 else ""
            rows.append(person(rng, start, phone, explicit))
    uk_lines = rng.sample(range(100, 1000), UK_COUNT)
    for line in uk_lines:
        rows.append(person(rng, start, rng.choice(UK_PREFIXES).format(f"{line:03d}"), ""))
    rng.shuffle(rows)
    for index, row in enumerate(rows, start=1):
        row[7] = f"C{index:06d}"
    return rows


def person(rng: random.Random, start: date, phone: str, zone: str) -> list[str]:
    """One contact row (Customer ID is filled in afterwards, in file order)."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{ascii_name(first)}.{ascii_name(last)}@example.com"
    day = start + timedelta(days=rng.randint(1, 21))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return [
        first,
        last,
        phone,
        email,
        day.isoformat(),
        rng.choice(TIMES),
        rng.choice(CLINICS),
        "",
        zone,
    ]


def ascii_name(name: str) -> str:
    """A name as an email local part: lower case ASCII letters only."""
    table = str.maketrans("áéíóúëöüñçôé", "aeioueounçoe")
    return "".join(
        char for char in name.lower().translate(table) if char.isascii() and char.isalpha()
    )


# Numbers on the do-not-call list that are not in contacts.csv (one appears in the messy file).
DNC_ONLY = ["+1 212 555 0198", "+1 (312) 555-0197", "303.555.0196"]


def messy_rows(start: date, repeats: tuple[str, str]) -> list[list[str]]:
    """One row per kind of trouble; README.md lists what each becomes."""
    day = (start + timedelta(days=3)).isoformat()
    clinic = CLINICS[0]

    def row(first: str, phone: str, *, zone: str = "", clinic_name: str = clinic) -> list[str]:
        return [first, "Sample", phone, "sample@example.com", day, "10:30", clinic_name, "", zone]

    rows = [
        row("Ann", "(415) 555-0101"),
        row("Ann again", "+1 415.555.0101"),
        row("Nobody", ""),
        row("Note", "call after 5pm"),
        row("Vanity", "1-800-FLOWERS"),
        row("Local", "555-0102"),
        row("Long", "+1 415 555 01033"),
        row("Unassigned", "+1 123 555 0104"),
        row("London", "+44 20 7946 0105"),
        row("Satellite", "+870 773 111 632"),
        row("Tollfree", "1-800-555-0150"),
        row("Eastern", "212-555-0106", zone="Eastern Time"),
        row("Snowbird", "212-555-0107", zone=" america/denver "),
        row("Renée Dupré", "604.555.0108"),
        row("Newline", "303-555-0109", clinic_name="Maple Street Dental\nSuite 200"),
        row('=HYPERLINK("http://example.com","click")', ""),
        row("Formula", "+1 602 555 0110", clinic_name="@Downtown"),
        row("Scientific", "4.155550111E9"),
        row("Float", "4155550112.0"),
        row("Extension", "415-555-0113 x22"),
        row("Repeat", repeats[0]),
        row("Repeat", repeats[1]),
        row("Donotcall", DNC_ONLY[0]),
    ]
    for index, cells in enumerate(rows, start=1):
        cells[7] = f"M{index:04d}"
    rows[0][7] = "-12"  # a plain number is data, not a formula: written as is
    return rows


def messy_table(rows: list[list[str]]) -> list[list[str]]:
    """Header, rows, and two blank rows (an empty line and a line of delimiters) in the middle."""
    middle = len(rows) // 2
    return [HEADERS, *rows[:middle], [], [""] * len(HEADERS), *rows[middle:]]


def dnc_rows(contacts: list[list[str]]) -> list[list[str]]:
    """Four numbers of contacts.csv (written another way), the DNC-only ones, one invalid entry."""
    overlap = [contact[2] for contact in contacts if not contact[2].startswith("+44")][5:9]
    numbers = [*("+1" + digits(number) for number in overlap), *DNC_ONLY, "555-01"]
    return [["Phone Number", "Added"], *([number, "2026-01-15"] for number in numbers)]


def write_csv(path: Path, rows: list[list[str]], *, encoding: str, delimiter: str = ",") -> None:
    """CSV with CRLF line ends, quoting only where needed."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    """The messy rows as a workbook; the Float row's phone is an Excel number, as Excel keeps it."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for cells in messy_table(rows):
        if cells and cells[0] == "Float":
            cells = [*cells[:2], 4155550112, *cells[3:]]
        sheet.append(list(cells) if any(cells) else [])
    # Formula-looking text must stay text: openpyxl would store "=..." as a formula.
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    # Fixed timestamps keep the workbook's bytes the same from one run to the next.
    workbook.properties.created = workbook.properties.modified = datetime(2026, 1, 1)
    workbook.save(path)


if __name__ == "__main__":
    main()
