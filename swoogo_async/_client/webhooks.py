"""The ``webhooks`` resource: list, create, update and delete webhook registrations.

``list`` and ``create`` are documented; ``update`` and ``delete`` follow the API's naming
pattern (inferred). The calls and the model are built in ``_api/webhooks.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from .._api.pages import Listing, numbered_listing
from .._api.webhooks import (
    ContentType,
    Webhook,
    create_webhook_call,
    delete_webhook_call,
    list_webhooks_call,
    parse_webhook,
    parse_webhook_page,
    update_webhook_call,
    webhook_fields,
)
from .._http.transport import Call
from .._types import UnsetType

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .client import SwoogoClient

__all__ = ["Webhook", "WebhookFields", "WebhookOptions", "Webhooks"]


class WebhookOptions(TypedDict, total=False):
    """The fields of a webhook besides its name, url and trigger object (see ``create``)."""

    content_type: ContentType | UnsetType
    headers: Mapping[str, str] | UnsetType
    trigger_on_insert: bool | UnsetType
    trigger_on_update: bool | UnsetType
    trigger_on_delete: bool | UnsetType
    event_ids: Iterable[int] | UnsetType | None
    enabled: bool | UnsetType
    group_id: int | UnsetType
    notes: str | UnsetType | None
    extra: Mapping[str, Any] | UnsetType


class WebhookFields(WebhookOptions, total=False):
    """Every field of a webhook, as ``update`` changes them."""

    name: str | UnsetType
    url: str | UnsetType
    trigger_object: str | UnsetType


#: The order fields are checked and sent in.
_ORDER = ("name", "url", "trigger_object", *WebhookOptions.__annotations__)
#: What ``create`` sends for a field it is not given.
_CREATE_DEFAULTS: dict[str, Any] = {
    "content_type": "json",
    "trigger_on_insert": True,
    "trigger_on_update": True,
    "trigger_on_delete": True,
}


class Webhooks:
    """Webhook registrations: list, create, update (inferred), delete (inferred)."""

    def __init__(self, client: SwoogoClient) -> None:
        self._client = client

    def list(self, *, fields: Iterable[str] | None = None, per_page: int = 200) -> Listing[Webhook]:
        """List the webhooks (``GET /webhooks``, documented); each page costs 10 credits.

        Args:
            fields: Only these fields (``None``: the server's choice).
            per_page: Page size.

        Returns:
            An async iterable of ``Webhook``, with ``.pages()``, ``.page(n)``, ``.collect()``.

        Raises:
            InvalidInputError: an argument is invalid (raised here, nothing sent).
        """
        fields = None if fields is None else [fields] if isinstance(fields, str) else list(fields)
        return numbered_listing(
            self._client.send,
            lambda number: list_webhooks_call(page=number, per_page=per_page, fields=fields),
            parse_webhook_page,
            per_page=per_page,
        )

    async def create(
        self, *, name: str, url: str, trigger_object: str, **options: Unpack[WebhookOptions]
    ) -> Webhook:
        """Register a webhook (``POST /webhooks/create``, documented; form body).

        Not retried once it may have reached the server (a retry could register it
        twice). Fields left ``UNSET`` take the server's defaults.

        Args:
            name: A label.
            url: Where Swoogo delivers.
            trigger_object: ``"session"``, ``"speaker"``, … (see ``TRIGGER_OBJECTS``).
            content_type: ``"json"``, or ``"post"`` for a PHP-style form.
            headers: Custom headers sent with each delivery, e.g. the receiver's
                secret ``{"Authorization": "Bearer …"}``.
            trigger_on_insert: Deliver on insert.
            trigger_on_update: Deliver on update.
            trigger_on_delete: Deliver on delete.
            event_ids: Only these events (``None``: any event).
            enabled: Whether it delivers.
            group_id: Its webhook group.
            notes: Free text.
            extra: Any other documented field (``public_user``, ``fields``, …) as sent.

        Returns:
            The webhook (the response's shape is inferred: the created record).

        Raises:
            InvalidInputError: a field is unusable (nothing was sent).
            ValidationError: the server refused a field.
        """
        given = {"name": name, "url": url, "trigger_object": trigger_object, **options}
        fields = _checked({**_CREATE_DEFAULTS, **given})
        return await self._send(create_webhook_call(fields))

    async def update(self, webhook_id: int, **fields: Unpack[WebhookFields]) -> Webhook:
        """Change a webhook (``PUT /webhooks/update/{id}``, inferred); only given fields are sent.

        Args:
            webhook_id: The webhook.
            name: The arguments of ``create``; ``UNSET`` ones are left as they are.
            url: See ``create``.
            trigger_object: See ``create``.
            content_type: See ``create``.
            headers: The whole new list of custom headers.
            trigger_on_insert: See ``create``.
            trigger_on_update: See ``create``.
            trigger_on_delete: See ``create``.
            event_ids: See ``create``.
            enabled: See ``create``.
            group_id: See ``create``.
            notes: See ``create``.
            extra: See ``create``.

        Returns:
            The webhook (inferred: the updated record).

        Raises:
            InvalidInputError: no change, or an unusable one (nothing was sent).
            NotFoundError: no such webhook.
        """
        return await self._send(update_webhook_call(webhook_id, _checked(fields)))

    async def delete(self, webhook_id: int) -> None:
        """Remove a webhook (``DELETE /webhooks/delete/{id}``, inferred).

        Raises:
            InvalidInputError: the id is invalid (nothing was sent).
            NotFoundError: no such webhook (also when a retried delete had removed it).
        """
        await self._client.send(delete_webhook_call(webhook_id), _nothing)

    async def _send(self, call: Call) -> Webhook:
        return await self._client.send(call, parse_webhook)


def _checked(given: Mapping[str, Any]) -> dict[str, Any]:
    """Check the fields a caller gave (in the order of ``_ORDER``) and return those to send."""
    unknown = set(given).difference(_ORDER)
    if unknown:
        raise TypeError(f"unexpected keyword argument {min(unknown)!r}")
    return webhook_fields({name: given[name] for name in _ORDER if name in given})


def _nothing(raw: bytes, *, method: str, url: str) -> None:
    """Read a body that carries nothing the caller needs."""
