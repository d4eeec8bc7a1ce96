"""Tempo's query API on the fake OTLP receiver: ``GET /api/v2/traces/<hex id>`` answers
from the spans it received, as Tempo 2.7 does (tests/real/test_verify.py reads the real
one): 200 ``{"trace":{"resourceSpans":[…]}}`` as OTLP/JSON (ids base64, enums as names,
64-bit numbers as strings), and 200 ``{"trace":{}}`` for an id it does not have. An id
that is not 32 hex digits gets a 400.

``drop_every=N`` makes it a backend that silently loses spans: it acknowledges every
push, but the N-th, 2N-th… span received is never served (:meth:`dropped` names them).
"""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

from tests.fakes.otlp import OtlpReceiver
from tests.fakes.server import Answer

TRACE_PATH = re.compile(r"^/api/v2/traces/([^/?]*)(\?.*)?$")
JSON = "application/json"


class TempoWithQueries(OtlpReceiver):
    def __init__(self, drop_every: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("accepts", ("/v1/traces",))
        super().__init__(**kwargs)
        self.drop_every = drop_every
        self.queries: list[str] = []  # the trace ids asked for, in order

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        match = TRACE_PATH.match(path)
        if method == "GET" and match:
            with self.lock:
                self.queries.append(match.group(1))
            return self._trace(match.group(1))
        return super().handle(method, path, headers, body)

    def dropped(self) -> list[tuple[bytes, bytes]]:
        """(trace id, span id) of every span received and never served."""
        if not self.drop_every:
            return []
        every = self.drop_every
        return [(s.trace_id, s.span_id) for i, (_, _, s) in enumerate(self.spans(), 1) if i % every == 0]

    def _trace(self, hex_id: str) -> Answer:
        try:
            trace_id = bytes.fromhex(hex_id)
            assert len(trace_id) == 16
        except (ValueError, AssertionError):
            return Answer(400, b"failed to parse trace id\n", "text/plain; charset=utf-8")
        dropped = set(self.dropped())
        served: list[ResourceSpans] = []
        with self.lock:
            requests = list(self.requests["/v1/traces"])
        for req in requests:
            for rs in req.resource_spans:
                kept = ResourceSpans(resource=rs.resource, schema_url=rs.schema_url)
                for ss in rs.scope_spans:
                    spans = [s for s in ss.spans if s.trace_id == trace_id and (s.trace_id, s.span_id) not in dropped]
                    if spans:
                        kept.scope_spans.append(ScopeSpans(scope=ss.scope, spans=spans, schema_url=ss.schema_url))
                if kept.scope_spans:
                    served.append(kept)
        trace = {"resourceSpans": [MessageToDict(rs) for rs in served]} if served else {}
        return Answer(200, json.dumps({"trace": trace}).encode(), JSON)
