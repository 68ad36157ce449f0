"""What a running offerbot process is made of: the composition root, the worker and its
scheduler, the doctor, logging. The commands in :mod:`bot.cli` start these.
"""
