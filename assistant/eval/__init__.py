"""Judging answers and retrieval on QA sets, and the tune command that fits the answer models."""
