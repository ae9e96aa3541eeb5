"""Tokens, scopes and personal data: the rules every service relies on."""
import re

import pytest
from cryptography.fernet import InvalidToken as InvalidToken_

from services.intake.domain import TRACKING_ALPHABET, new_tracking_code
from xinfang.privacy import PiiVault, mask_id, mask_phone, redact, resident_id_valid
from xinfang.security import (
    InvalidToken,
    Principal,
    TokenIssuer,
    TokenVerifier,
    division_prefix,
    generate_keypair,
    hash_password,
    verify_password,
)

COUNTY_LEADER = Principal("leader", "leader", "999901000000")
TOWNSHIP_CLERK = Principal("clerk-a", "clerk", "999901001000", unit_id="999901001-gov")
HANDLER = Principal("h", "handler", "999901000000", unit_id="999901-d02")


@pytest.mark.parametrize("code, prefix", [
    ("990000000000", "99"), ("999900000000", "9999"), ("999901000000", "999901"),
    ("999901001000", "999901001"), ("999901001002", "999901001002"),
])
def test_a_division_code_covers_the_codes_below_it(code, prefix):
    assert division_prefix(code) == prefix


def test_a_township_user_sees_its_township_and_not_the_next_one():
    assert TOWNSHIP_CLERK.can_see_case(office="999901001000", unit_id=None)
    assert not TOWNSHIP_CLERK.can_see_case(office="999901002000", unit_id="999901001-gov")
    assert COUNTY_LEADER.can_see_case(office="999901002000", unit_id=None)
    assert not COUNTY_LEADER.can_see_case(office="999902001000", unit_id=None)


def test_a_handler_sees_what_its_unit_was_given_and_nothing_else():
    assert HANDLER.can_see_case(office="999901007000", unit_id="999901-d02")
    assert not HANDLER.can_see_case(office="999901001000", unit_id="999901-d03")
    assert not HANDLER.can_see_case(office="999901001000", unit_id=None)


def test_tokens_verify_with_the_public_key_alone_and_refuse_forgery_and_expiry():
    private, public = generate_keypair()
    token, _ = TokenIssuer(private).issue(TOWNSHIP_CLERK)
    assert TokenVerifier(public).verify(token) == TOWNSHIP_CLERK
    other_private, _ = generate_keypair()
    forged, _ = TokenIssuer(other_private).issue(COUNTY_LEADER)
    with pytest.raises(InvalidToken):
        TokenVerifier(public).verify(forged)
    expired, _ = TokenIssuer(private, ttl_s=-1).issue(TOWNSHIP_CLERK)
    with pytest.raises(InvalidToken, match="expired"):
        TokenVerifier(public).verify(expired)
    with pytest.raises(InvalidToken):
        TokenVerifier(public).verify(token[:-3] + "AAA")


def test_during_a_token_key_rotation_tokens_of_the_old_and_the_new_key_are_both_good():
    old_private, old_public = generate_keypair()
    new_private, new_public = generate_keypair()
    old_token, _ = TokenIssuer(old_private).issue(TOWNSHIP_CLERK)
    new_token, _ = TokenIssuer(new_private).issue(COUNTY_LEADER)
    both = TokenVerifier(old_public + new_public)  # one PEM block after the other, as the key file holds them
    assert both.verify(old_token) == TOWNSHIP_CLERK and both.verify(new_token) == COUNTY_LEADER
    # once the old key is dropped, its tokens are refused
    with pytest.raises(InvalidToken, match="does not hold"):
        TokenVerifier(new_public).verify(old_token)
    # a token claiming the new key's id but signed by another key is still a forgery
    new_header, _, new_sig = new_token.split(".")
    _, other_payload, _ = old_token.split(".")
    with pytest.raises(InvalidToken):
        both.verify(f"{new_header}.{other_payload}.{new_sig}")


def test_passwords_are_hashed_with_argon2id_and_verified():
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$") and "correct horse" not in h
    assert verify_password(h, "correct horse") and not verify_password(h, "wrong horse")
    assert not verify_password("not a hash", "x")


def test_tracking_codes_are_random_over_a_31_letter_alphabet():
    codes = {new_tracking_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(re.fullmatch(rf"[{TRACKING_ALPHABET}]{{4}}-[{TRACKING_ALPHABET}]{{4}}-[{TRACKING_ALPHABET}]{{4}}", c)
               for c in codes)


def test_personal_data_is_encrypted_matched_by_keyed_hash_and_masked():
    vault = PiiVault("a secret")
    enc = vault.encrypt("110101199003071233")
    assert "110101199003071233" not in enc and vault.decrypt(enc) == "110101199003071233"
    assert vault.blind_index("110101199003071233") == vault.blind_index(" 110101199003071233 ")
    assert vault.blind_index("110101199003071233") != PiiVault("another").blind_index("110101199003071233")
    assert mask_id("330106199001011234") == "3301**********1234"
    assert mask_phone("13800000000") == "138****0000"


def test_during_a_pii_key_rotation_old_rows_still_decrypt_and_match():
    number = "110101199003071233"
    old = PiiVault("the old secret")
    ring = PiiVault("the new secret", ["the old secret"])
    written_before = old.encrypt(number)
    assert ring.decrypt(written_before) == number                    # still readable
    assert old.blind_index(number) in ring.blind_indexes(number)     # still found by repeat detection
    assert ring.blind_index(number) == PiiVault("the new secret").blind_index(number)  # new rows: new key only
    with pytest.raises(InvalidToken_):                                # the old key cannot read new rows
        old.decrypt(ring.encrypt(number))
    assert ring.key_id != old.key_id and ring.previous_key_ids == (old.key_id,)
    assert "secret" not in ring.key_id


def test_logs_and_dead_letters_are_redacted():
    text = "petitioner 11010519491231002X phone 13912345678 case 999901001002 2026-11-20"
    red = redact(text)
    assert "11010519491231002X" not in red and "13912345678" not in red
    assert "999901001002" in red and "2026-11-20" in red  # division codes and dates survive


def test_resident_id_check_digit():
    assert resident_id_valid("11010519491231002X") and resident_id_valid("110101199003071233")
    assert not resident_id_valid("110101199003071234") and not resident_id_valid("1101011990")
