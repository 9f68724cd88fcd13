"""The README's snippet, run against the embedded fake Swoogo server (no network, no keys)."""

from __future__ import annotations

import asyncio
import datetime as dt

from swoogo_async import SwoogoClient
from swoogo_async.testing import FakeSwoogo


async def main() -> None:
    async with FakeSwoogo() as fake:
        speaker = fake.add_speaker(event_id=12, first_name="Ada", last_name="Lovelace")
        async with SwoogoClient(fake.api_key, fake.api_secret, base_url=fake.base_url) as client:
            s = await client.sessions.create(
                event_id=12,
                name="Keynote",
                date=dt.date(2026, 5, 1),
                start_time=dt.time(9),
                capacity=150,
                custom_fields={"c_1001": "Value1"},
            )
            print("created", s.id, s.name, s.date, s.start_time, s.capacity, s.custom_fields)
            s = await client.sessions.update(s.id or 0, capacity=200)
            print("updated capacity", s.capacity)
            async for item in client.sessions.list(event_id=12, fields=["id", "name", "date"]):
                print("listed", item.id, item.name, item.date)
            result = await client.speakers.add_sessions(speaker["id"], [s.id or 0])
            print("speaker", result.first_name, "now has", len(result.sessions), "session(s)")
        print("token requests seen by the server:", fake.token_requests)


if __name__ == "__main__":
    asyncio.run(main())
