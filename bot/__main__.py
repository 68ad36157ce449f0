"""``python -m bot`` is the ``offerbot`` command, for when pip's script folder is not on PATH."""

from bot.cli import main

main()
