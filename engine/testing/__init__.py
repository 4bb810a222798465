"""Test helpers for flowbot users and for flowbot's own suite."""
