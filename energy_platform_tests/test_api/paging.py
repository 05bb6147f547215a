"""Walking every page of an endpoint, the way a client of the API does."""

from __future__ import annotations

from typing import Any, Protocol


class _Getter(Protocol):
    def get(self, url: str, *, params: dict[str, Any]) -> Any: ...


def walk(
    client: _Getter, url: str, max_pages: int = 10_000, **params: Any
) -> tuple[list[dict], int]:
    """Every item of every page (in order) and the number of pages it took."""
    items: list[dict] = []
    token = None
    for pages in range(1, max_pages + 1):
        resp = client.get(url, params={**params, **({"next": token} if token else {})})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["count"] == len(body["items"])
        items.extend(body["items"])
        token = body["next"]
        if token is None:
            return items, pages
    raise AssertionError(f"{url}: still a next page after {max_pages} pages")
