"""The outbox relay: publishes the outbox table's messages to RabbitMQ with publisher confirms
(python -m outbox_relay)."""
