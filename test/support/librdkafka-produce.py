"""Produces record batches with librdkafka (Python confluent-kafka), one compression codec each.

Reads one JSON object from stdin:
  {"brokers": "...", "topic": "...", "batches": [{"compression": "lz4", "partition": 0,
   "records": [{"key": "...", "value": "..."}]}]}
and writes the offsets each batch's records got, as JSON on stdout: [[first, last], ...].
Each batch gets its own producer with that `compression.type` and a long linger, so its records
travel as one compressed record batch; batches go one after another, in order. The producer knows
the topic's leaders before its first record: records produced while that metadata is still coming
wait unassigned, and when it comes librdkafka moves them to their partition one by one and wakes
the sender, which sends the first alone if it has waited longer than the linger (seen on a loaded
machine: a batch of 12 stored as 1 + 11).
"""
import json
import sys

from confluent_kafka import KafkaException, Producer


def produce(brokers, topic, batch):
    producer = Producer({
        "bootstrap.servers": brokers,
        "compression.type": batch["compression"],
        "linger.ms": 1000,
        "batch.num.messages": 100000,
        "acks": "all",
        "enable.idempotence": False,
    })
    producer.list_topics(topic, timeout=30)
    offsets = []
    errors = []

    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            offsets.append(msg.offset())

    for r in batch["records"]:
        producer.produce(topic, key=r["key"], value=r["value"], partition=batch.get("partition", -1),
                         on_delivery=delivered)
    left = producer.flush(30)
    if left or errors:
        raise KafkaException(f"{left} records not delivered, errors: {errors[:3]}")
    return [min(offsets), max(offsets)]


def main():
    spec = json.load(sys.stdin)
    json.dump([produce(spec["brokers"], spec["topic"], b) for b in spec["batches"]], sys.stdout)


if __name__ == "__main__":
    main()
