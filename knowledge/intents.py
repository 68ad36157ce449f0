"""What a message asks for, before any passage is looked up.

:func:`detect_intent` returns one of:

* ``help``, ``contacts`` — the menu, the offer's contacts;
* ``grants``, ``status``, ``elect``, ``withdraw`` — the person's own data or an action on it:
  the service answers these from the roster / elections, never from the document;
* ``deadline`` — a short question about when the offer closes (answered from the live offer
  state, with the document's passage cited);
* ``advice`` — a request for a recommendation ("should I tender?"): answered with the offer's
  own no-recommendation position, never an opinion;
* ``out_of_scope`` / ``tax_or_financial`` — things the document cannot know (today's price,
  someone's personal tax bill, an accountant referral): the bot abstains;
* ``faq`` — everything else: a question for the document.

A question about *how* to do something ("how do I withdraw?", "can I withdraw only some?") is
a question for the document, not an action; an instruction ("please withdraw grant 4412") is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PERSONAL_INTENTS", "Intent", "detect_intent", "seeks_recommendation"]

PERSONAL_INTENTS = frozenset({"grants", "status", "elect", "withdraw"})


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    reason: str = ""  # which rule fired, for tests and logs


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


_HELP = _rx(r"^\s*(help|\?+|menu|start|hi|hello|hey|commands|what can you do\??)\s*[.!?]*\s*$")
_CONTACTS = _rx(
    r"^\s*(contacts?|contact info|hr|human resources|talk to (hr|a human|a person|someone))"
    r"\s*[.!?]*\s*$",
    r"^\s*who (do|can|should) i (ask|contact|talk to|call|reach)\s*[.!?]*\s*$",
)

# "How do I …", "can I …": a question about the procedure, answered from the document.
_PROCEDURE_QUESTION = _rx(
    r"^\W*(how|can|could|may|what|when|where|is|are|do|does|if|will|would|why)\s+(i|we|you|one)\b"
    r"(?!\s+please)",
    r"\bhow (do|can|would|should|could) i\b",
    r"\bwhat do i (need|have) to do\b",
    r"^\W*(is|are|can|may)\s+(there|it|options|grants)\b",
)
# "pull back my tender?": a bare verb asked as a question ("(can I) …?"), naming no grant
_BARE_QUESTION = _rx(r"^[^0-9]{0,60}\?\s*$")
_HYPOTHETICAL = _rx(r"\b(say|suppose|supposing|assuming|if|once|after|when|what if)\s+(i|we)\b")
_POLITE_ACTION = (
    r"(please|pls|plz|kindly|can you|could you|would you|will you|go ahead and|i want to|i'd like "
    r"to|i would like to|i wish to|i need to|i've decided to|i have decided to|i will|i'll|help me"
    r"|i want you to)"
)
_ELECT = _rx(
    rf"\b{_POLITE_ACTION}\s+(tender|exchange|elect|enroll|enrol|sign( me)? up|participate|"
    r"swap|join|opt in|put in|submit (my|an) election)\b",
    r"\b(sign|enroll|enrol|opt|count|put) me (up|in|down)\b",
    r"^\W*(please\s+)?(tender|exchange|elect|swap|submit)\s+(my|all|grant|grants|the|these|those)\b",
    r"^\W*(please\s+)?(add|include)\b.*\bto my (election|tender)\b",
    r"\b(tender|exchange|elect)\b.*\bfor me\b",
    r"\bi('m| am) in\W*$",
)
_WITHDRAW = _rx(
    rf"\b{_POLITE_ACTION}\s+(withdraw|un-?tender|pull|take|remove|cancel|revoke|back out|opt out|"
    r"drop|retract)\b",
    r"^\W*(please\s+)?(withdraw|un-?tender|cancel|revoke|retract|pull|take|remove|drop)\b.*"
    r"\b(my|grant|grants|election|tender|me)\b",
    r"\b(opt|count|take) me out\b",
    r"\b(take|remove|pull|drop)\b.*\b(out of|from)\s+(my|the)\s+(election|tender|exchange|offer)",
)
_STATUS = _rx(
    r"\b(did|have|has)\s+(you|hr|they|capstone|the company|someone|anyone|human resources)\b.*"
    r"\b(receive|received|get|got|process|processed|record|recorded|see|seen|confirm|confirmed)\b"
    r".*\bmy\b",
    r"\b(has|have|was|were|is)\s+my\b.*\b(election|form|notice|withdrawal|fax|tender|paperwork)"
    r"\b.*\b(received|processed|recorded|accepted|confirmed|through|counted|logged|done|in)\b",
    r"\b(status|state) of my\b",
    r"\bmy (election |tender |withdrawal )?status\b",
    r"\bwhat (did|have) i (elect|elected|tender|tendered|submit|submitted)\b",
    r"\bam i (enrolled|signed up|in the (offer|exchange|program)|participating|tendered)\b",
    r"\bdid my (fax|form|election|notice|paperwork)\b",
    r"\bwhere is my (election|form|notice|confirmation)\b",
)
_GRANTS = _rx(
    r"^\W*(my\s+)?(grants?|options?|stock options|option grants)\W*$",
    r"\b(show|list|see|view|display|check|look up|pull up|give me)\b.*\bmy\b.*"
    r"\b(grants?|options?|shares)\b",
    r"\b(what|which|how many)\b.*\b(grants?|options?|shares)\b.*\b(do i|i|have i)\s+"
    r"(have|hold|own|got)\b",
    r"\b(total|how many|which|what|list|sum)\b[^?]*\bmy\s+(eligible\s+|qualifying\s+|current\s+|"
    r"existing\s+|outstanding\s+|unexercised\s+|old\s+)?(grants?|options?|option grants|shares)\b",
    r"\b(are|is)\s+(any of\s+)?my\b[^?]*\b(grants?|options?)\b[^?]*\b(eligible|qualif\w*|included|"
    r"underwater|covered)\b",
    r"^\W*(am i|i'?m)\s+(eligible|qualified)\W*$",
    r"\bdo i (have|hold|own)\b.*\b(eligible|qualifying|any)\b.*\b(grants?|options?)\b",
)
_NOT_GRANTS = _rx(r"\bnew options?\b", r"\bwill i (receive|get)\b", r"\bin exchange for\b")
_DEADLINE = _rx(
    r"^\W*(the\s+|what'?s the\s+)?(deadline|due date|cut-?off|expiration( date)?|expiry)\W*$",
    r"\b(when|what time|what date|what day)\b[^?]*\b(deadline|due|cut-?off)\b",
    r"\b(when|what time|what date)\s+(is|does|do|will)\s+(the\s+)?(exchange\s+|tender\s+)?"
    r"(offer|exchange|election( window)?|window|offer period|election period)\s+"
    r"(close|end|expire|finish|due|over)",
    r"\bhow (much|long) (time )?(do i have|is left|left|remains?)\b\s*(left|to (decide|tender|"
    r"elect|submit|respond|withdraw|change|sign up|make up my mind)\b|until\b|\W*$)",
    r"\b(time|days|hours) left\b",
    r"\bwhat('s| is) the deadline\b",
    r"\bis the (offer|exchange) (still )?open\b",
)

# Requests for a recommendation. The offer's own words ("whether you should tender or not
# tender") are a statement, and mechanics questions ("should I send the form by fax?") are not.
_MECHANICS_AFTER_SHOULD = (
    r"send|fax|deliver|sign|date|fill|mail|include|attach|contact|call|email|e-mail|write|"
    r"submit|print|use|expect|read|ask|list|put|keep a copy|bring|specify|hand|staple|number"
)
_ADVICE = _rx(
    rf"\b(should|shall|must|ought to)\s+(i|we)\b(?!\s+(?:{_MECHANICS_AFTER_SHOULD})\b)[^?]*"
    r"\b(tender|exchange|participate|accept|take|do it|do this|keep|elect|join|swap|hold|go for|"
    r"sign up|wait|stay|trade|do the)\b",
    r"^\W*(should|shall)\s+(i|we)\b(?!\s+(?:" + _MECHANICS_AFTER_SHOULD + r")\b)[^?]{0,40}\W*$",
    r"\brecommend",
    r"(?<!tax )(?<!legal )(?<!financial )(?<!investment )\badvi[cs]e\b(?! from)",
    r"\bworth\s+(it|swapping|tendering|exchanging|doing|participating|trading|the risk|my while|"
    r"the trade|giving up)\b",
    r"\b(good|bad|great|smart|wise|dumb|stupid|fair|sensible|right|best|wrong|safe)\s+(idea|deal|"
    r"move|choice|decision|bet|trade|call|plan|thing to do)\b",
    r"\brip[- ]?off\b|\bscam\b",
    r"\bbetter off\b|\b(is|would) it (be )?(better|smarter|wiser)\b|\bbetter to (tender|wait|"
    r"exchange|keep|hold|participate|swap|stay)\b",
    r"\bwhat would you do\b|\bif you were me\b|\bin my shoes\b|\bwould you (tender|exchange|swap|"
    r"participate|do it|take|keep)\b",
    r"\b(y/n|yes or no)\b",
    r"\b(tender|swap|exchange|participate)\s+or\s+(not|hold|keep|wait|stay|skip)\b|\bhold or "
    r"(swap|tender|exchange)\b|\b(keep|hold) or (swap|tender|exchange)\b",
    r"\bmakes? sense (for me )?to\b|\bdo you think (i|we) should\b|\b(in )?your opinion\b",
    # "do u think swapping makes sense for someone in my position", "r u in favour of it"
    r"\b(do|would|does)\s+(you|u|ya|anyone)\s+(think|reckon|believe|feel|suggest|say)\b[^?]*"
    r"\b(tender\w*|swap\w*|exchang\w*|participat\w*|sense|worth|should|good|better|wise|smart)\b",
    r"\b(tender\w*|swap\w*|exchang\w*|participat\w*|it|this)\s+makes?\s+sense\b",
    r"\b(someone|somebody|people|employees?|a person)\s+(in|with)\s+my\s+(position|situation|"
    r"shoes|circumstances)\b",
    r"\b(is|are) (this|it|the offer|the exchange|this exchange|this offer|the deal)\b[^?]*"
    r"\b(good for me|worth|beneficial|smart|favou?rable|advantageous|a good deal|rip)",
)
_LIVE_MARKET = _rx(
    r"\b(today|right now|currently|at the moment|this (morning|week|afternoon)|live|latest)\b[^?]*"
    r"\b(price|stock|cpst|shares?|trading|quote|worth)\b",
    r"\b(price|stock|cpst|shares?|trading|quote)\b[^?]*\b(today|right now|at the moment|"
    r"this (morning|week|afternoon)|currently)\b",
)
_TAX_PERSONAL = _rx(
    r"\b(how much|what will|what would|calculate|compute|estimate|figure out)\b[^?]*"
    r"\b(my|i)\b[^?]*\b(tax|taxes|amt|owe)\b",
    r"\b(state|california|ca|local|city|foreign)\s+(income\s+)?tax(es)?\b",
    r"\b(best|good|recommend\w*|find|suggest|know)\b[^?]*\b(accountant|cpa|tax (advisor|adviser|"
    r"preparer|person|guy|lawyer)|financial (advisor|adviser|planner)|lawyer|attorney|broker)\b",
)


def seeks_recommendation(text: str) -> bool:
    return bool(_ADVICE.search(text))


def detect_intent(text: str) -> Intent:
    """The intent of one message (see the module docstring)."""
    message = " ".join(text.split())
    if not message or _HELP.search(message):
        return Intent("help")
    if _CONTACTS.search(message):
        return Intent("contacts")
    procedure = bool(
        _PROCEDURE_QUESTION.search(message)
        or _HYPOTHETICAL.search(message)
        or _BARE_QUESTION.search(message)
    )
    if not procedure or re.search(r"\b(please|pls|plz|for me)\b", message, re.I):
        if _WITHDRAW.search(message):
            return Intent("withdraw")
        if _ELECT.search(message) and not seeks_recommendation(message):
            return Intent("elect")
    if _STATUS.search(message):
        return Intent("status")
    if _GRANTS.search(message) and not _NOT_GRANTS.search(message):
        return Intent("grants")
    if _TAX_PERSONAL.search(message):
        return Intent("tax_or_financial", "personal tax or adviser question")
    if seeks_recommendation(message):
        return Intent("advice")
    if _LIVE_MARKET.search(message):
        return Intent("out_of_scope", "live market data")
    if _DEADLINE.search(message) and len(message.split()) <= 12:
        return Intent("deadline")
    return Intent("faq")
