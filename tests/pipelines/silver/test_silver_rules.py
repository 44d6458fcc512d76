"""A failing and a passing row for every rule of the real registry (parameters_silver.yml).

Adding a rule to the registry without a case here fails ``test_every_rule_has_a_case``.
"""

from __future__ import annotations

import pytest
from silver_fixtures import good_911_row, good_request

from nyc_lakehouse.pipelines.silver import nodes
from nyc_lakehouse.quality import apply_rules, rules_from_config

# rule name -> landing-record overrides that make a row fail it (the default record passes).
NYC311_FAILING = {
    "unique_key_present": {"unique_key": "x-17"},
    "created_date_present": {"created_date": None},
    "created_date_in_range": {
        "created_date": "2009-12-31T10:00:00.000",
        "closed_date": "2010-01-02T10:00:00.000",
    },
    "source_updated_at_not_in_future": {"_socrata_updated_at": "2099-01-01T00:00:00.000Z"},
    "valid_location": {"latitude": "41.5"},
    "valid_zip": {"incident_zip": "07030"},
    "closed_date_not_before_created": {"closed_date": "2024-05-01T00:00:00.000"},
    # as_of is 2024-06-01 12:00 UTC; the tolerance is 30 days.
    "closed_date_not_in_future": {"closed_date": "2024-08-01T00:00:00.000"},
    "agency_present": {"agency": "N/A"},
    "complaint_type_present": {"complaint_type": None},
    "all_fields_parsed": {"due_date": "next tuesday"},
}

NYC911_FAILING = {
    "week_start_date_present": {"week_start_date": "13/45/2019"},
    "known_agency": {"agency": "DOT"},
    "incident_type_specified": {"final_incident_type": None},
    "incident_count_valid": {"of_incidents_calculated": "-5"},
    "pickup_plausible": {"call_to_first_pickup": "500"},
    "durations_not_negative": {"average_ems_processing": "-0.11"},
    "all_fields_parsed": {"median_travel": "12s"},
}


@pytest.mark.parametrize(
    ("section", "cases"), [("nyc311", NYC311_FAILING), ("nyc911", NYC911_FAILING)]
)
def test_every_rule_has_a_case(silver_params, section, cases):
    declared = {rule["name"] for rule in silver_params[section]["rules"]}
    assert declared == set(cases)


def _failed_rules_by_case(checked, key_column: str) -> dict:
    return {row[key_column]: row["failed_rules"] for row in checked.collect()}


def test_311_rules_fail_and_pass(spark, bronze_311, silver_params, run_context):
    params = silver_params["nyc311"]
    records = [good_request("1", _socrata_id="pass")]
    for index, (rule, overrides) in enumerate(NYC311_FAILING.items()):
        records.append(
            good_request(**{"unique_key": str(100 + index), "_socrata_id": rule, **overrides})
        )
    base = nodes.clean_311_base(bronze_311(records), params)
    as_of = nodes._as_of_literal(run_context)
    flagged = nodes.add_311_flags(base, params, as_of).withColumn(nodes.RUN_AS_OF_COLUMN, as_of)
    checked = apply_rules(flagged, rules_from_config(params["rules"]))
    failed = _failed_rules_by_case(checked, "_socrata_id")

    assert failed["pass"] == []
    for rule in NYC311_FAILING:
        assert rule in failed[rule], f"{rule}: the failing row was not caught ({failed[rule]})"


def test_911_rules_fail_and_pass(spark, bronze_911, silver_params, run_context):
    params = silver_params["nyc911"]
    records = [good_911_row(_socrata_id="pass")]
    for rule, overrides in NYC911_FAILING.items():
        records.append(good_911_row(_socrata_id=rule, **overrides))
    base = nodes.clean_911_base(bronze_911(records), params)
    flagged = base.withColumn(nodes.RUN_AS_OF_COLUMN, nodes._as_of_literal(run_context))
    checked = apply_rules(flagged, rules_from_config(params["rules"]))
    failed = _failed_rules_by_case(checked, "_socrata_id")

    assert failed["pass"] == []
    for rule in NYC911_FAILING:
        assert rule in failed[rule], f"{rule}: the failing row was not caught ({failed[rule]})"
