"""otel-replay: replay recorded OpenTelemetry telemetry into any OTLP backend and Loki."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("otel-replay")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
