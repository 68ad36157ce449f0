"""What goes out to people, and when: the outbox and its recovery, reminders, announcements,
HR's digest and receipt SLA, the communications log, and Slack delivery bookkeeping.
"""
