"""Monthly statistics items (sos1379.coordinators.counters and .reporting): the month's counters,
the marks that make every contribution count once, and the cases of a month through the day
counters. A mixin of ``CaseStore``."""
from __future__ import annotations

from .items import (case_key, case_number_key, day_counter_key, day_of_counter, month_of_stats,
                    stats_mark_key, stats_month_key)

STATUS_MARK = "STATUS"


class StatsRecords:
    def month_counters(self, month: str) -> dict:
        """The counters of one month (``YYYY-MM``): one GetItem; empty when nothing was counted."""
        return self.table.get_item(Key=stats_month_key(month)).get("Item") or {}

    def months_counters(self, months: list[str]) -> dict[str, dict]:
        """The counters of several months, by month (one BatchGetItem); months without any are left out."""
        return {month_of_stats(i): i for i in self._batch_get([stats_month_key(m) for m in months])}

    def _add_counts_action(self, month: str, counts: dict[str, int]) -> dict:
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":c{i}": value for i, value in enumerate(counts.values())}
        return {"Update": {"TableName": self.table_name, "Key": stats_month_key(month),
                           "UpdateExpression": "ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values)),
                           "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}

    def count_once(self, case_id: str, contribution: str, month: str, counts: dict[str, int], at: str) -> bool:
        """Add ``counts`` to the month unless this contribution of the case was counted already
        (its mark exists); True when it counted now."""
        mark = {**stats_mark_key(case_id, contribution), "month": month, "at": at}
        return self._transact_unless_first_fails([self._put_new_action(mark), self._add_counts_action(month, counts)])

    def status_mark(self, case_id: str) -> dict | None:
        """The status (and case version) last counted for the case."""
        return self.table.get_item(Key=stats_mark_key(case_id, STATUS_MARK), ConsistentRead=True).get("Item")

    def advance_status_mark(self, case_id: str, version: int) -> None:
        """Record that a newer image of the case, in the status already counted, was seen."""
        self.table.update_item(Key=stats_mark_key(case_id, STATUS_MARK), UpdateExpression="SET version = :v",
                               ConditionExpression="version < :v", ExpressionAttributeValues={":v": version})

    def move_status_count(self, case_id: str, mark: dict | None, status: str, version: int, month: str,
                          counts: dict[str, int]) -> bool:
        """Set the case's status mark to ``status``/``version`` (only if it is still ``mark``, as
        read) and add ``counts`` to the month, together; False when another writer moved the mark."""
        put = {"TableName": self.table_name,
               "Item": {**stats_mark_key(case_id, STATUS_MARK), "status": status, "version": version, "month": month}}
        if mark is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "version = :old"
            put["ExpressionAttributeValues"] = {":old": mark["version"]}
        return self._transact_unless_first_fails([{"Put": put}, self._add_counts_action(month, counts)])

    def cases_received_on(self, days: list[str]) -> list[dict]:
        """Every case received on the Seoul days ``yymmdd``, by case number (the day counters say
        how many numbers each day gave out: no scan)."""
        counters = list(self._batch_get([day_counter_key(d) for d in days]))
        numbers = [f"{day_of_counter(c)}-{n:04d}" for c in counters for n in range(1, int(c["value"]) + 1)]
        lookups = list(self._batch_get([case_number_key(n) for n in numbers]))
        cases = list(self._batch_get([case_key(i["case_id"]) for i in lookups]))
        return sorted(cases, key=lambda c: c.get("case_number", ""))
