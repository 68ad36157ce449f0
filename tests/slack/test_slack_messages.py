"""DM questions through the real Bolt pipeline: answered once, with the citation; signatures."""

from __future__ import annotations

import json

from tests.slack.conftest import SlackBot


def _dm(text: str, user: str = "U1001") -> dict[str, object]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D1001",
        "user": user,
        "text": text,
        "ts": "1057852800.000100",
    }


def _posted_text(call_params: dict[str, object]) -> str:
    return str(call_params.get("text", "")) + json.dumps(call_params.get("blocks", []))


async def test_dm_deadline_question_is_answered_once_in_the_dm(slack_bot: SlackBot) -> None:
    response = await slack_bot.event(_dm("when is the deadline?"), event_id="EvDeadline")
    assert response.status == 200
    posts = await slack_bot.fake.wait_for("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["channel"] == "D1001"
    text = _posted_text(posts[0].params)
    assert "July 24, 2003" in text and "5:00 p.m." in text


async def test_retried_event_is_answered_once(slack_bot: SlackBot) -> None:
    await slack_bot.event(_dm("when is the deadline?"), event_id="EvRetry")
    await slack_bot.fake.wait_for("chat.postMessage")
    retried = await slack_bot.event(_dm("when is the deadline?"), event_id="EvRetry", retry=1)
    assert retried.status == 200
    # a later, different event proves the retry was fully processed before it
    await slack_bot.event(_dm("what is the new grant date?"), event_id="EvOther")
    posts = await slack_bot.fake.wait_for("chat.postMessage", 2)
    await slack_bot.fake.wait_for("users.info")
    assert len(posts) == 2
    async with slack_bot.app.uow() as uow:
        from storage.slack_repo import slack_events

        assert await slack_events(uow).seen("event:EvRetry")


async def test_question_answer_carries_the_citation_and_buttons(slack_bot: SlackBot) -> None:
    await slack_bot.event(_dm("how do I tender my options?"), event_id="EvCite")
    (post,) = await slack_bot.fake.wait_for("chat.postMessage")
    blocks = post.params["blocks"]
    assert isinstance(blocks, list)
    contexts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any(c.startswith("Source: Q") and "p. " in c for c in contexts)


async def test_bad_or_stale_signature_is_rejected_without_side_effects(slack_bot: SlackBot) -> None:
    bad = await slack_bot.event(_dm("when is the deadline?"), event_id="EvBad", secret="wrong")
    stale = await slack_bot.event(_dm("when is the deadline?"), event_id="EvOld", age=600)
    assert bad.status == 401 and stale.status == 401
    async with slack_bot.app.uow() as uow:
        from storage.slack_repo import slack_events

        assert not await slack_events(uow).seen("event:EvBad")
        assert not await slack_events(uow).seen("event:EvOld")
    assert slack_bot.fake.of("chat.postMessage") == []


async def test_unknown_event_types_are_acknowledged_and_ignored(slack_bot: SlackBot) -> None:
    response = await slack_bot.event({"type": "reaction_added", "user": "U1001"}, event_id="EvX")
    assert response.status == 200
    assert slack_bot.fake.of("chat.postMessage") == []
