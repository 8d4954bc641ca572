"""README example (pytest plugin): event sequences a client's handler must survive, fed to a plain function and
to a live client through the mock; hypothesis shrinks a failure to the fewest steps."""

from hypothesis import HealthCheck, given, settings

from mockserver.strategies import event_sequences, feed


class TraderBook:
    """A client-side cache of traders kept from events, as a UI would keep it."""

    def __init__(self):
        self.traders = {}
        self.removed = set()

    def apply(self, event, payload):
        trader_id = payload["_id"]
        if event.endswith(" removed"):
            self.traders.pop(trader_id, None)
            self.removed.add(trader_id)  # a late patch must not bring it back
        elif trader_id not in self.removed:
            known = self.traders.get(trader_id)
            if known is None or known.get("updatedAt", "") <= payload.get("updatedAt", ""):
                self.traders[trader_id] = payload  # an older patch arriving late is ignored


@settings(max_examples=50, deadline=None)
@given(event_sequences("traders"))
def test_the_book_survives_any_sequence(steps):
    book = TraderBook()
    feed(steps, book.apply)
    newest = {}
    for step in steps:
        if step.kind == "event" and not step.event.endswith(" removed"):
            newest[step.payload["_id"]] = max(newest.get(step.payload["_id"], ""), step.payload.get("updatedAt", ""))
    assert all(trader.get("updatedAt", "") == newest[i] for i, trader in book.traders.items())
    assert not book.removed & set(book.traders)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=event_sequences("traders", reconnects=False))
def test_a_live_client_gets_every_event_in_order(cryptorobot_mock, cryptorobot_mock_client, steps):
    client = cryptorobot_mock_client
    start = len(client.log)
    cryptorobot_mock.feed(steps)  # published by the mock to the client's socket, as the server would
    for name in {step.event for step in steps}:
        before = sum(event == name for event, _ in client.log[:start])
        client.wait_for(name, count=before + sum(step.event == name for step in steps))
    received = client.log[start:]
    assert received == [(step.event, step.payload) for step in steps]
    book = TraderBook()
    for event, payload in received:
        book.apply(event, payload)
