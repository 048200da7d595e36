"""The warehouse writer: DDL, idempotent keyed upserts per bucket, ledger and watermarks."""
