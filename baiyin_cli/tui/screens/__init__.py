"""Screens of the triage app: the queue, one petition, help, forms and pickers."""
