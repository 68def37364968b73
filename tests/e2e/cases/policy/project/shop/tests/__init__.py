"""Tests of the shop: excluded from tracing."""
