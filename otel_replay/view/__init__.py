"""``otel-replay view``: one self-contained HTML page to look at a bug report offline.

otel_replay.collect reads the inputs as ``replay`` does into memory; data.py turns the records
into the page's JSON (pure); page.py fills the template (assets/) with it, inline and
under a Content-Security-Policy that forbids any network; command.py is the CLI command.
"""
