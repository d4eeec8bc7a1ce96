"""otel-replay: replay recorded OpenTelemetry telemetry into any OTLP backend and Loki."""

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it from here
