"""Knowledge models (SQLAlchemy 2.0 typed mappings)."""
