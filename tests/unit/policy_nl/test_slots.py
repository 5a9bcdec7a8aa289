"""Slot grammar: number words, units, money, times; every value maps back to a span of the request."""

from __future__ import annotations

import pytest

from tollgate.errors import InputError
from tollgate.policy.nl import slots as sl


def values(found: list[sl.Found]) -> list[object]:
    return [f.value for f in found]


def test_number_words_become_digits_and_spans_point_at_the_words() -> None:
    text = sl.Text("alert if CPU is over ninety five percent for twenty minutes")
    [pct] = sl.percents(text)
    [window] = sl.durations(text)
    assert pct.value == 95 and window.value == 1200
    assert text.original[pct.start : pct.end] == "ninety five percent"
    assert text.original[window.start : window.end] == "twenty minutes"


@pytest.mark.parametrize(
    ("phrase", "millicores"),
    [("500m", 500), ("2 cores", 2000), ("1.5 vCPU", 1500), ("250 millicores", 250), ("three cpus", 3000)],
)
def test_cpu_is_normalised_to_millicores(phrase: str, millicores: int) -> None:
    assert values(sl.cpus(sl.Text(f"cap at {phrase}"))) == [millicores]


@pytest.mark.parametrize(
    ("phrase", "size"),
    [("512Mi", 512 * 2**20), ("4Gi", 4 * 2**30), ("2 GiB", 2 * 2**30), ("2GB", 2 * 10**9), ("500MB", 500 * 10**6)],
)
def test_memory_binary_and_decimal_units(phrase: str, size: int) -> None:
    assert values(sl.memories(sl.Text(f"limit {phrase}"))) == [size]


def test_durations_and_milliseconds_are_kept_apart() -> None:
    text = sl.Text("p99 above 250ms for an hour")
    assert values(sl.milliseconds(text)) == [250]
    assert values(sl.durations(text)) == [3600]


def test_money_with_symbol_word_and_period() -> None:
    text = sl.Text("keep it under €2.5k a month, or 300 dollars per day")
    assert values(sl.money(text)) == [(2500, "EUR"), (300, "USD")]
    assert values(sl.periods(text)) == ["month", "day"]


def test_environment_action_and_weekday_synonyms() -> None:
    text = sl.Text("abort live deploys on weekends and Fridays")
    assert values(sl.environments(text)) == ["production"]
    assert values(sl.actions(text)) == ["rollback"]
    assert values(sl.weekdays(text)) == [["sat", "sun"], ["fri"]]


def test_times_and_dates() -> None:
    text = sl.Text("between 10pm and 6:30 am, from 2026-12-20 to Jan 3 2027, or Dec 25")
    assert values(sl.times(text)) == ["22:00", "06:30"]
    assert values(sl.dates(text)) == ["2026-12-20", "2027-01-03", None]


def test_identifiers() -> None:
    text = sl.Text("images from ghcr.io/acme and registry.local:5000 on m5.large or e2-standard-4 in eu-west-1")
    assert values(sl.registries(text)) == ["ghcr.io/acme", "registry.local:5000"]
    assert values(sl.instance_types(text)) == ["m5.large", "e2-standard-4"]
    assert values(sl.regions(text)) == ["eu-west-1"]
    assert values(sl.label_keys(sl.Text("needs the app.kubernetes.io/part-of label"), "label")) == [
        "app.kubernetes.io/part-of"]
    assert values(sl.branches(sl.Text("only from release/* branches"))) == ["release/*"]


def test_request_length_is_checked() -> None:
    with pytest.raises(InputError, match="empty"):
        sl.check_request("   ")
    with pytest.raises(InputError, match="2000"):
        sl.check_request("x" * 2001)
    assert sl.check_request("  require a team label ") == "require a team label"
