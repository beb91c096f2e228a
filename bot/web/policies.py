"""The /policies page: search box, results with highlights, documents with an anchor per clause."""
from flask import Blueprint

bp = Blueprint("policies", __name__)
