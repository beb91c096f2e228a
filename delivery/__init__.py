"""Outbound delivery: the job queue, the platforms' clients and what sends the outbox's notices.

The ticket domain writes notices to the outbox (tickets/outbox.py) and knows nothing of this
package, of huey or of the platforms; this package reads the outbox and sends.
"""
