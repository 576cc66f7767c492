"""Outgoing mail: message building (`message`), delivery over SMTP or to the console with
each outcome classified (`transport`), retry and throttle policies for the outbox
(`pacing`), links back to the site (`urls`), the mail templates (`render`) and the
operator's check `paperfeed mail test` (`check`).

Nothing here touches the store: the outbox that records sends is designed in docs/email.md.
"""
