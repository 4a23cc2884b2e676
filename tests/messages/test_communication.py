"""The `communication` section of a shop's policy: defaults for what is missing, a sentence for each problem."""

from __future__ import annotations

from datetime import time

from plugin.compensation.policy import default_policy
from plugin.messages.communication import Communication, parse_communication


def test_a_shop_without_the_section_gets_the_defaults():
    assert parse_communication(None) == (Communication(), [])
    assert parse_communication(default_policy()["communication"]) == (Communication(), [])


def test_what_the_merchant_sets_is_read_and_tidied():
    comm, problems = parse_communication({
        "max_silence_hours": "48", "quiet_hours": {"from": "21:30", "to": "07:00"}, "sender_name": " Tienda Lucía ",
        "reply_to": "hola@tienda.es", "team_emails": ["Ana@Tienda.es", " "],
        "team_webhook_url": "https://hooks.slack.com/services/T/B/X"})
    assert problems == []
    assert (comm.max_silence_hours, comm.quiet_from, comm.quiet_to) == (48, time(21, 30), time(7, 0))
    assert (comm.sender_name, comm.team_emails) == ("Tienda Lucía", ("ana@tienda.es",))


def test_each_problem_is_named_for_the_merchant():
    _, problems = parse_communication({
        "max_silence_hours": 12, "reply_within_business_hours": "soon", "quiet_hours": {"from": "late"},
        "reply_to": "nobody", "team_emails": "ana@tienda.es", "team_webhook_url": "http://hooks.example/x",
        "pigeons": True})
    assert problems == [
        "Communication: unknown setting 'pigeons'",
        "The longest silence must be from 24 to 168 hours, not 12",
        "The reply time must be a whole number of hours, not 'soon'",
        "Quiet hours need a start and an end written as HH:MM, like 22:00 and 08:00",
        "The reply-to address 'nobody' is not an email address",
        "Team addresses must be a list of email addresses",
        "The team webhook URL must be an https:// address (a Slack-compatible incoming webhook)",
    ]
