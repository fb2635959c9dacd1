"""Client names and contact details are encrypted at rest; a wrong key fails loudly."""

from __future__ import annotations

import importlib

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import override_settings

from calls.models import Client
from privacy.fields import DecryptionError, decrypt_str

pytestmark = pytest.mark.django_db

NAME = "Иван Петрович Сидоров"


def _raw_columns(client: Client) -> tuple[str, str, str]:
    pk = Client._meta.pk.get_db_prep_value(client.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT display_name, email, phone FROM {Client._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()


def test_the_raw_column_holds_no_plaintext(manager):
    client = Client.objects.create(display_name=NAME, email="ivan@example.ru", phone="+79001234567", manager=manager)
    raw_name, raw_email, raw_phone = _raw_columns(client)
    for raw, plain in ((raw_name, NAME), (raw_email, "ivan@example.ru"), (raw_phone, "+79001234567")):
        assert plain not in raw
        assert "Сидоров" not in raw and "ivan" not in raw
        assert raw.startswith("gAAAAA")  # a Fernet token
        assert decrypt_str(raw) == plain
    assert Client.objects.get(pk=client.pk).display_name == NAME


def test_two_clients_with_the_same_name_get_different_ciphertexts(manager):
    a = Client.objects.create(display_name=NAME, manager=manager)
    b = Client.objects.create(display_name=NAME, manager=manager)
    assert _raw_columns(a)[0] != _raw_columns(b)[0]


def test_a_wrong_key_raises_instead_of_returning_ciphertext(manager):
    client = Client.objects.create(display_name=NAME, manager=manager)
    with override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
        with pytest.raises(DecryptionError):
            Client.objects.get(pk=client.pk)
        with pytest.raises(DecryptionError):
            list(Client.objects.values_list("display_name", flat=True))
    assert Client.objects.get(pk=client.pk).display_name == NAME


def test_a_rotated_key_list_still_reads_old_rows_and_writes_with_the_new_key(manager, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    client = Client.objects.create(display_name=NAME, manager=manager)
    new_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
        reread = Client.objects.get(pk=client.pk)
        assert reread.display_name == NAME
        reread.save()
    raw = _raw_columns(client)[0]
    Fernet(new_key.encode()).decrypt(raw.encode())  # written under the new key
    with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]):
        with pytest.raises(DecryptionError):
            Client.objects.get(pk=client.pk)


def test_the_migration_encrypts_rows_written_in_plaintext_before_it(manager):
    client = Client.objects.create(display_name="placeholder", manager=manager)
    pk = Client._meta.pk.get_db_prep_value(client.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Client._meta.db_table} SET display_name = %s WHERE id = %s", [NAME, pk])
    with pytest.raises(DecryptionError):
        Client.objects.get(pk=client.pk)
    migration = importlib.import_module("calls.migrations.0002_client_encrypted_fields")

    class Editor:  # RunPython passes a schema editor; only its connection is used
        pass

    Editor.connection = connection
    migration.encrypt_existing(None, Editor)
    migration.encrypt_existing(None, Editor)  # idempotent: never double-encrypts
    assert NAME not in _raw_columns(client)[0]
    assert Client.objects.get(pk=client.pk).display_name == NAME
