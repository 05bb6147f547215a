"""Reading Dagster's own event records: every materialization a filter matches, page by page."""

from collections.abc import Iterator

from dagster import AssetRecordsFilter, DagsterInstance, EventLogRecord

PAGE = 1000


def materializations(
    instance: DagsterInstance, records_filter: AssetRecordsFilter
) -> Iterator[EventLogRecord]:
    """Every materialization record `records_filter` matches, oldest first."""
    cursor = None
    while True:
        page = instance.fetch_materializations(
            records_filter, limit=PAGE, cursor=cursor, ascending=True
        )
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor
