"""Meter telemetry: MQTT ingester, meter registry, series store, aggregates and warnings."""
