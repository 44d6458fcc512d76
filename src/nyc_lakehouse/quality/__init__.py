"""Data-quality rules kept as data, applied in one place (DLT-style expectations on Spark)."""

from nyc_lakehouse.quality.rules import (
    ACTIONS,
    FAILED_RULES_COLUMN,
    DataQualityError,
    QualityReport,
    Rule,
    RuleResult,
    apply_rules,
    enforce_rules,
    format_summary,
    is_quarantined,
    results_to_records,
    rules_from_config,
    summarize_rules,
    validate_rules,
)

__all__ = [
    "ACTIONS",
    "FAILED_RULES_COLUMN",
    "DataQualityError",
    "QualityReport",
    "Rule",
    "RuleResult",
    "apply_rules",
    "enforce_rules",
    "format_summary",
    "is_quarantined",
    "results_to_records",
    "rules_from_config",
    "summarize_rules",
    "validate_rules",
]
