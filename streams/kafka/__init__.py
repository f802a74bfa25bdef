"""Kafka adapters: the batch consumer and publisher, the bundled broker, the topics."""
