from otel_replay.cli import run

run()
