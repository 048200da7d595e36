"""Rule evaluation and quarantine, the Great Expectations record, masking of personal data."""
