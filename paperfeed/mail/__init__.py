"""Outgoing mail: message building (`message`), delivery over SMTP or to the console with
each outcome classified (`transport`), retry and throttle policies for the outbox
(`pacing`), links back to the site (`urls`) and the mail templates (`render`).

Nothing here touches the store: the outbox that records sends is designed in docs/email.md.
"""
