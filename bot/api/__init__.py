"""The REST API under /api/v1 (tickets, statistics), token-authenticated, described by OpenAPI."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
