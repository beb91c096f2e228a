"""The routing back end: tickets, departments, routing rules, lifecycle, deadlines, notifications."""
