"""Scrubbing what must not leave the machine: rules (rules.py), the built-in presets
(presets.py) and the engine that applies them to records (engine.py). docs/scrub.md."""
