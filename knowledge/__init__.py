"""Policy knowledge base: ingest documents, split clauses, search, cite; contact directory."""
