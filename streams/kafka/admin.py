"""Topic creation, with explicit configs (Tansu reports only the configs set at creation)."""

from __future__ import annotations

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.kafka.security import Brokers, as_connection, start_client
from streams.kafka.topics import ALL_TOPICS, TOPIC_CONFIGS


async def ensure_topics(brokers: Brokers, partitions: int, topics: tuple[str, ...] = ALL_TOPICS) -> str:
    """Create the topics that do not exist yet (existing ones are left as they are); returns the
    broker's cluster id, which names the log whose offsets the worker will read."""
    connection = as_connection(brokers)
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    await start_client(admin, connection)
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=TOPIC_CONFIGS)
            for name in topics
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
                await admin.create_topics(missing)
        return str((await admin.describe_cluster()).get("cluster_id") or "")
    finally:
        await admin.close()
