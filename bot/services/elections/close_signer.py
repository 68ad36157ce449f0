"""Who signs the Promise to Grant letters of ``offerbot hr close`` (Offer §6, p. 18: the letter
is the company's binding commitment). ``OFFERBOT_SIGNER_NAME`` and ``OFFERBOT_SIGNER_TITLE``
override the ``[signer]`` table of ``offer.toml``; with neither, the close refuses to start:
no letter may go out unsigned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.services.errors import InvalidRequestError
from knowledge.offer_terms import OfferSigner, bundled_offer_dir, load_offer_signer

__all__ = ["NO_SIGNER", "MissingSignerError", "resolve_signer"]

NO_SIGNER = (
    "No officer is set to sign the Promise to Grant letters: add a [signer] table with name "
    "and title to offer.toml, or set OFFERBOT_SIGNER_NAME and OFFERBOT_SIGNER_TITLE, then run "
    "`offerbot hr close` again (nothing was changed)."
)


class MissingSignerError(InvalidRequestError):
    """``hr close`` without a configured signer: no letter may go out unsigned."""


class _SignerSettings(Protocol):
    @property
    def signer_name(self) -> str | None: ...
    @property
    def signer_title(self) -> str | None: ...
    @property
    def offer_dir(self) -> Path | None: ...


def resolve_signer(settings: _SignerSettings) -> OfferSigner:
    """The officer who signs this close's letters: ``OFFERBOT_SIGNER_NAME`` and
    ``OFFERBOT_SIGNER_TITLE`` when set, else ``[signer]`` in ``offer.toml``; raises
    :class:`MissingSignerError` (a ``ValueError``) when neither names one."""
    name = (settings.signer_name or "").strip()
    title = (settings.signer_title or "").strip()
    if name or title:
        if not (name and title):
            raise MissingSignerError(
                "Set both OFFERBOT_SIGNER_NAME and OFFERBOT_SIGNER_TITLE (the officer who signs "
                "the Promise to Grant letters), or neither; nothing was changed."
            )
        return OfferSigner(name=name, title=title)
    signer = load_offer_signer(settings.offer_dir or bundled_offer_dir())
    if signer is None:
        raise MissingSignerError(NO_SIGNER)
    return signer
