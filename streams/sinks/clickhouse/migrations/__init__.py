"""ClickHouse migrations: one file per migration, named and numbered by its version; see runner.py."""
