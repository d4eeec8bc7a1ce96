# ruff: noqa: E501  (the rules are TOML text: a regex is one line)
"""The built-in rule sets (``--scrub secrets``, ``pii``, ``codemachine``), written as rules
files in the same TOML a user writes (docs/scrub.md explains each rule and decision)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence

from otel_replay.scrub.engine import Scrubber
from otel_replay.scrub.rules import Rule, RulesError, parse_rules

SECRETS = r"""
# Credentials are replaced by a fixed text, never hashed: a password's hash can be
# brute-forced by whoever knows the salt.
[[replace]]
name = "url-credentials"
pattern = '(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/?#@:]+:[^\s/?#@]*@'
replacement = '\g<scheme>‹secret›@'

[[replace]]
name = "authorization"
pattern = '''(?P<k>\b(?:proxy-)?authorization|\bx-api-key|\bapi-key|\bx-auth-token)(?P<sep>["']?\s*[:=]\s*["']?)(?P<scheme>(?:bearer|basic|token|digest|negotiate)\s+)?[^\s"',;]+'''
ignore_case = true
replacement = '\g<k>\g<sep>\g<scheme>‹secret›'

[[replace]]
name = "secret-pairs"
pattern = '''(?P<k>\b(?:password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|id_token|auth_token|api_key|apikey|api-key|private_key)\b)(?P<sep>["']?\s*[:=]\s*["']?)[^\s"'&,;]+'''
ignore_case = true
replacement = '\g<k>\g<sep>‹secret›'

[[replace]]
name = "private-key-block"
pattern = '-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----'
replacement = '‹secret:private-key›'

[[replace]]
name = "jwt"
pattern = '\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}'
replacement = '‹secret:jwt›'

[[replace]]
name = "token-shapes"
pattern = '''\b(?:sk-ant-[A-Za-z0-9_-]{16,}|sk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|npm_[A-Za-z0-9]{36}|[rs]k_live_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{30,})'''
replacement = '‹secret:token›'

[[replace]]
name = "secret-keys"
keys = ["*authorization*", "*Authorization*", "*password*", "*passwd*", "*secret*", "*api_key*", "*api-key*",
        "*apikey*", "*access_token*", "*refresh_token*", "*auth_token*", "*private_key*", "*cookie*", "*Cookie*"]
pattern = '(?s).+'
replacement = '‹secret›'
"""

PII = r"""
# Personal data is hashed: equal values give equal tokens, so "the same user" and "the
# same host" can still be followed through a report.
[[hash]]
name = "user-keys"
keys = ["process.owner", "user.name", "user.id", "user.email", "user.full_name", "enduser.id", "os.user", "*.username"]
label = "user"

[[hash]]
name = "host-keys"
keys = ["host.name", "host.hostname", "host.id", "net.host.name", "network.local.address", "client.address",
        "http.client_ip", "k8s.node.name"]
label = "host"

[[replace]]
name = "home-user"
pattern = '''(?P<home>/home/|/Users/|/var/home/|\b[A-Za-z]:(?:\\+|/)(?:Users|Documents and Settings)(?:\\+|/))(?P<user>[^/\\\s:;,'"‹›]+)'''
hash = "user"
label = "user"

[[replace]]
name = "email"
pattern = '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}'
hash = 0
label = "email"

[[replace]]
name = "ipv4"
pattern = '(?<![\w.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\w.])'
hash = 0
label = "ip"

[[replace]]
name = "ipv6"
pattern = '(?<![\w:.])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){1,7}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?|::[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})(?![\w:])'
ignore_case = true
hash = 0
label = "ip"
"""

CODEMACHINE = r"""
# What CodeMachine records about the user's project and work (docs/scrub.md, per field).
[[delete]]
name = "previews"
keys = ["workflow.spec_preview", "*.spec_preview", "*.prompt_preview", "*.prompt", "*.prompt_text"]

[[hash]]
name = "workspace-paths"
keys = ["cli.boot.cwd", "*.cwd", "*.workspace", "*.workspace_path", "*.workspace_dir", "*.project_dir"]
label = "path"

[[hash]]
name = "command-line"
keys = ["cli.boot.args", "process.args", "mcp.args"]
label = "arg"

[[replace]]
name = "cli-args-log"
pattern = 'CLI invoked with args: (?P<args>.+)'
hash = "args"
label = "arg"

[[replace]]
name = "session-file"
keys = ["sessionFile"]
in = ["file"]
pattern = '^(?P<dir>.+?)(?=[/\\]\.codemachine[/\\])'
hash = "dir"
label = "path"

[[replace]]
name = "cwd-log"
pattern = '(?P<k>\b(?:targetCwd|cwd|workspace)=)(?P<path>[^,\s]+)'
hash = "path"
label = "path"
"""

PRESETS = {"secrets": SECRETS, "pii": PII, "codemachine": CODEMACHINE}


def load(spec: str) -> list[Rule]:
    """The rules of ``--scrub SPEC``: a preset's name or a rules file's path;
    :class:`RulesError` when it is neither or the file is wrong."""
    if spec in PRESETS:
        return parse_rules(PRESETS[spec], f"preset {spec}", prefix=f"{spec}/")
    if not os.path.isfile(spec):
        raise RulesError(f"{spec}: neither a preset ({', '.join(PRESETS)}) nor a rules file")
    try:
        with open(spec, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"{spec}: cannot read the rules file: {exc}") from None
    return parse_rules(text, spec, prefix=f"{os.path.basename(spec)}/")


def build_scrubber(specs: Sequence[str], salt: str | None) -> Scrubber:
    """The rules of every spec, in order, keyed by ``salt`` (None: a random salt, this run only)."""
    rules = [rule for spec in specs for rule in load(spec)]
    return Scrubber(rules, salt.encode("utf-8") if salt else secrets.token_bytes(32))
