"""The offer itself as it changes: the live terms, deadlines, amendments and the plans that
follow them.
"""
