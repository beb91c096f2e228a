"""Demo data for `make run`: a sample prefecture's departments, routing rules and accounts."""


def load_demo_data(session) -> str:
    return "demo data: not yet available"
