"""Loopback HTTP servers that answer like Tempo's OTLP receiver and Loki's push API.

They are started by the tests on 127.0.0.1 and a free port; the code under test talks
to them over real sockets, so the bytes on the wire are what is checked.
"""
