"""Analyst SQL: the caged session, its guard and its limits."""
