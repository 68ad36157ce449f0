"""HR's own tools outside the elections: the HR web console and its accounts, and ``/offer-
admin`` in chat.
"""
