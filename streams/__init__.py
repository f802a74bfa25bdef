"""borderwatch's I/O side: sources, Kafka, the stages, sinks, delivery, the worker, its API and the CLI."""
