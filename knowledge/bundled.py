"""The bundled sample corpus (public policy documents) ingested on first start."""


def ingest_bundled(session) -> str:
    return "policy corpus: not yet available"
