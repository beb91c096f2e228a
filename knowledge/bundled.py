"""The bundled sample corpus: five public policy documents (knowledge/corpus/), ingested on first start.

They ship inside the package so that `make run` answers policy questions out of the box and the
project never reads ../shared at run time; metadata.json gives each its title, issuer and region.
"""
from __future__ import annotations

import json
from pathlib import Path

from knowledge.ingest import ingest_bytes

CORPUS = Path(__file__).parent / "corpus"


def ingest_bundled(session) -> str:
    meta = json.loads((CORPUS / "metadata.json").read_text(encoding="utf-8"))
    outcomes = [ingest_bytes(session, name, (CORPUS / name).read_bytes(), meta.get(name)) for name in sorted(meta)]
    changed = sum(o.status in ("added", "updated") for o in outcomes)
    errors = [f"{o.source}: {o.message}" for o in outcomes if o.status == "error"]
    clauses = sum(o.clauses for o in outcomes)
    line = f"policy corpus: {len(outcomes)} documents, {clauses} clauses ({changed} ingested now)"
    return line + ("; errors: " + "; ".join(errors) if errors else "")
