"""Deleting rows together with the files they point to, counting everything that goes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import models, router, transaction
from django.db.models.deletion import Collector


def _file_names(objs: Iterable[models.Model], file_fields: list[models.FileField]) -> list[tuple]:
    found = []
    for obj in objs:
        for field in file_fields:
            fieldfile = getattr(obj, field.attname)
            if fieldfile and fieldfile.name:
                found.append((fieldfile.storage, fieldfile.name))
    return found


def _collected_files(collector: Collector) -> list[tuple]:
    files: list[tuple] = []
    for model, instances in collector.data.items():
        file_fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
        if file_fields:
            files += _file_names(instances, file_fields)
    for qs in collector.fast_deletes:
        file_fields = [f for f in qs.model._meta.concrete_fields if isinstance(f, models.FileField)]
        if file_fields:
            files += _file_names(qs, file_fields)
    return files


def delete_with_files(objs: models.QuerySet | list[models.Model]) -> Counter:
    """Delete ``objs`` and everything that cascades from them, then their stored files once committed.

    Returns counts per model label (cascaded rows included) plus ``"files"``.
    """
    if isinstance(objs, models.QuerySet):
        model = objs.model
        if not objs.exists():
            return Counter()
    elif objs:
        model = type(objs[0])
    else:
        return Counter()
    using = router.db_for_write(model)
    counts: Counter = Counter()
    with transaction.atomic(using=using):
        collector = Collector(using=using, origin=objs)
        collector.collect(objs)
        files = _collected_files(collector)
        _, per_model = collector.delete()
        counts.update({label: n for label, n in per_model.items() if n})

        def remove_files() -> None:
            for storage, name in files:
                storage.delete(name)

        transaction.on_commit(remove_files, using=using)
    if files:
        counts["files"] += len(files)
    return counts
