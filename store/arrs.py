"""Arrs registered by a qBit login (a mixin of SqliteStore)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager

import orjson

from core.ports.repair import Registration


class ArrQueries:
    """The arr_registrations table."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def save_registration(self, registration: Registration) -> None:
        """Register (or re-register: a new key or version) an Arr; its categories stay."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO arr_registrations (url, type, api_key, categories, version, "
                "registered) VALUES (?,?,?,?,?,?) ON CONFLICT (url) DO UPDATE SET type = "
                "excluded.type, api_key = excluded.api_key, version = excluded.version",
                (registration.url, registration.type, registration.api_key,
                 orjson.dumps(list(registration.categories)).decode(), registration.version,
                 registration.registered))

    def registrations(self) -> list[Registration]:
        return [Registration(url=r[0], type=r[1], api_key=r[2],
                             categories=tuple(orjson.loads(r[3])), version=r[4],
                             registered=r[5])
                for r in self._read().execute(
                    "SELECT url, type, api_key, categories, version, registered FROM "
                    "arr_registrations ORDER BY registered, url")]

    def add_registration_category(self, url: str, category: str) -> bool:
        """Note that a registered Arr adds into `category`; False if it already did (or is
        not registered)."""
        with self._tx() as conn:
            row = conn.execute("SELECT categories FROM arr_registrations WHERE url = ?",
                               (url,)).fetchone()
            if row is None:
                return False
            categories = list(orjson.loads(row[0]))
            if category in categories:
                return False
            categories.append(category)
            conn.execute("UPDATE arr_registrations SET categories = ? WHERE url = ?",
                         (orjson.dumps(categories).decode(), url))
            return True
