"""Repair, standardise and reconcile legacy rows."""
