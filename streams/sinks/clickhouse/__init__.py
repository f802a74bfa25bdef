"""ClickHouse: connection, schema, migrations, the incident sink and its tables."""
