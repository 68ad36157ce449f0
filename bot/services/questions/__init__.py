"""Answering what people ask, from any channel: the one entry point per message and the answer
from the offer document.
"""
