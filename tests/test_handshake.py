"""The hello handshake: actors of different schemas refuse each other."""

from __future__ import annotations

import logging

from actors import schema
from launch import EXIT_RUN_FAILED, ActorConfig, LinkConfig, Topology, launch

from .actors_for_tests import _NewerKind


def test_a_schema_mismatch_is_refused_naming_both_actors_and_both_hashes() -> None:
    topology = Topology(actor=[ActorConfig("old", "actors.examples.echo:Idle"),
                               ActorConfig("new", "tests.actors_for_tests:Skewed")],
                        link=[LinkConfig(("old", "new"))])
    result = launch(topology, log_level=logging.CRITICAL, forward_stderr=False)
    assert result.code == EXIT_RUN_FAILED
    skewed = schema.schema_hash(schema.MESSAGE_TYPES + (_NewerKind,))
    assert skewed != schema.SCHEMA_HASH
    # Whichever side noticed first, the report names both actors and both hashes.
    assert "handshake refused between actor" in result.reason
    for part in ("'old'", "'new'", schema.SCHEMA_HASH, skewed):
        assert part in result.reason, result.reason


def test_the_schema_hash_follows_fields_not_docs() -> None:
    import msgspec

    def build(field_type: type, doc: str) -> type:
        probe = msgspec.defstruct("Probe", [("x", field_type)], tag=250, array_like=True)
        probe.__doc__ = doc
        return probe

    one, other_doc, other_field = build(int, "One doc."), build(int, "Another doc."), build(str, "One doc.")
    a, b, c = (schema.schema_hash((t,)) for t in (one, other_doc, other_field))
    assert a == b != c
