"""Where reports come from besides the Kafka input topics."""
